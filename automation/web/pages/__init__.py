"""Server-rendered pages for business users (Jinja2 templates in web/templates, CSS and JS in web/static).

Every page needs a signed-in user, except the first-run setup (only while there are no users), the
sign-in page and the signed approval links of notifications (approval_links.py). ``g.identity`` is set
from the session the same way the API sets it from a token, so pages query through ``scoping.scoped`` like
the API does. Viewers and approvers see; owners and editors change.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, g, redirect, request, url_for
from flask_login import current_user, logout_user
from werkzeug.wrappers import Response

from automation.accounts import has_users, session_identity
from automation.models import Role
from automation.web.sessions import chosen_workspace

pages = Blueprint("pages", __name__, template_folder="../templates", static_folder="../static",
                  static_url_path="/static")

# The main navigation; a page module that is not there yet is left out rather than breaking every page.
NAV = (("pages.home", "Home"), ("pages.gallery", "Templates"), ("pages.workflows", "Workflows"),
       ("pages.runs", "Runs"), ("pages.approvals", "Approvals"), ("pages.analytics", "Analytics"),
       ("pages.connections", "Connections"), ("pages.members", "Members"), ("pages.tokens", "API tokens"),
       ("pages.audit", "Audit"))
# Shown in the navigation to owners only (base.html); the pages refuse everyone else.
OWNER_NAV = frozenset({"pages.members", "pages.audit"})
# approval_link: a notification's signed link is the credential (automation/web/pages/approval_links.py).
# invitation: the signed link is what lets a person in who has no account yet (pages/invitations.py).
PUBLIC = frozenset({"pages.setup", "pages.login", "pages.static", "pages.approval_link", "pages.invitation"})
WRITERS = frozenset({Role.OWNER, Role.EDITOR})


@pages.before_request
def require_session() -> Response | None:
    if request.endpoint == "pages.static":
        return None
    if not has_users():
        return None if request.endpoint == "pages.setup" else redirect(url_for("pages.setup"))
    if request.endpoint in PUBLIC:
        return None
    if not current_user.is_authenticated:
        return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))
    identity = session_identity(current_user, chosen_workspace())
    if identity is None:  # no workspace left, or deactivated since signing in
        logout_user()
        return redirect(url_for("pages.login"))
    g.identity = identity
    return None


@pages.app_context_processor
def page_globals() -> dict[str, object]:
    identity = g.get("identity")
    nav = [(endpoint, label) for endpoint, label in NAV if endpoint in current_app.view_functions]
    return {"identity": identity, "can_edit": bool(identity and identity.role in WRITERS), "nav_items": nav}


def require_editor() -> None:
    """Refuse (403) a change by a viewer or approver: buttons are hidden, but a crafted POST must fail too."""
    if g.identity.role not in WRITERS:
        abort(403, description=f"a {g.identity.role.value} cannot make changes; ask an owner for the editor role")


def require_owner() -> None:
    if g.identity.role != Role.OWNER:
        abort(403, description="only an owner can do this")


from automation.web.pages import (  # noqa: E402, F401 - register their views on `pages`
    account,
    analytics,
    approval_links,
    approvals,
    audit,
    connections,
    dashboard,
    gallery,
    invitations,
    members,
    runs,
    tokens,
    workflows,
    workspaces,
)
