"""Browser sessions: Flask-Login for who is signed in, Flask-WTF's CSRFProtect for every form POST, and the
workspace the session works in (chosen with the switcher; automation/accounts.session_identity checks the
user is still a member there).

The bearer-token API, the webhooks and the operator endpoints use no cookies, so they are exempt from
CSRF; everything else that changes state needs the form's token.
"""

from __future__ import annotations

from flask import Blueprint, Flask, session
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from automation.models import User, db

login_manager = LoginManager()
csrf = CSRFProtect()
WORKSPACE_KEY = "workspace_id"


def chosen_workspace() -> int | None:
    value = session.get(WORKSPACE_KEY)
    return value if isinstance(value, int) else None


def choose_workspace(workspace_id: int) -> None:
    session[WORKSPACE_KEY] = workspace_id


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    return user if user is not None and user.is_active else None


def init_sessions(app: Flask, exempt: list[Blueprint]) -> None:
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("REMEMBER_COOKIE_HTTPONLY", True)
    app.config.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")
    # A CSRF token lives as long as the session; the default hour would fail a form left open over lunch.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    login_manager.login_view = "pages.login"
    login_manager.login_message = "Sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.init_app(app)
    csrf.init_app(app)
    for blueprint in exempt:
        csrf.exempt(blueprint)
