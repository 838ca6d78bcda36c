"""Browser sessions: Flask-Login for who is signed in, Flask-WTF's CSRFProtect for every form POST, and the
workspace the session works in (chosen with the switcher; automation/accounts.session_identity checks the
user is still a member there).

The bearer-token API, the webhooks and the operator endpoints use no cookies, so they are exempt from
CSRF; everything else that changes state needs the form's token.

Cookies are HttpOnly and SameSite=Lax, and Secure by ``RELAY_SECURE_COOKIES``: ``on``, ``off``, or ``auto``
(the default) = on when ``RELAY_PROXY_FIX`` is set (a proxy in front of Relay terminates TLS) and otherwise
for each request that came over HTTPS, so a plain-HTTP local run can still sign in.
"""

from __future__ import annotations

from flask import Blueprint, Flask, request, session
from flask.sessions import SecureCookieSessionInterface
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


class HttpsAwareSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the cookie Secure also when ``auto`` sees an HTTPS request."""

    def get_cookie_secure(self, app: Flask) -> bool:
        if app.config["RELAY_SECURE_COOKIES"] == "auto" and request.is_secure:
            return True
        return bool(super().get_cookie_secure(app))


def always_secure(app: Flask) -> bool:
    mode = app.config["RELAY_SECURE_COOKIES"]
    return mode == "on" or (mode == "auto" and int(app.config["RELAY_PROXY_FIX"]) > 0)


def init_sessions(app: Flask, exempt: list[Blueprint]) -> None:
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    # Flask's defaults already hold SESSION_COOKIE_SAMESITE (None), which setdefault would keep.
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = always_secure(app)
    app.config["REMEMBER_COOKIE_SECURE"] = always_secure(app)
    app.session_interface = HttpsAwareSessionInterface()
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
