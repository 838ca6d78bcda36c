"""The members page, for owners: members with their roles (change, remove), pending invitations (revoke),
and inviting someone by email through a connection of the workspace, or with a link to copy (shown once).

Everyone else gets 403, and the page is not in their navigation. Rules and audit entries live in
automation/members.py and automation/invitations.py; this module only reads forms and shows outcomes.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from automation import invitations, members
from automation.connection_mail import smtp_connections
from automation.models import Invitation, Membership, Role, db
from automation.scoping import MAX_ID, scoped
from automation.web.pages import pages, require_owner
from automation.web.serializers import absolute_url
from integrations.base import ConnectorError

ROLES = tuple(role.value for role in Role)
COPY = ""  # the delivery choice "show me the link to copy"


def _page(status: int = 200, **values: Any) -> tuple[str, int]:
    workspace_id = g.identity.workspace_id
    values.setdefault("invite", {"email": "", "role": Role.EDITOR.value, "delivery": COPY})
    values.setdefault("errors", {})
    deliveries = [(COPY, "Show me the link to copy")] + [
        (c.name, f"Email through “{c.name}”") for c in smtp_connections(workspace_id)]
    return render_template(
        "pages/members.html", roles=ROLES, role_options=[(role, role) for role in ROLES],
        delivery_options=deliveries, people=db.session.execute(members.members_query(workspace_id)).all(),
        pending=db.session.scalars(invitations.pending(workspace_id)).all(), **values), status


def _membership(user_id: int) -> Membership:
    row = db.session.scalar(scoped(Membership).where(Membership.user_id == user_id)) if user_id <= MAX_ID else None
    if row is None:
        abort(404, description="no such member in this workspace")
    return row


@pages.get("/members", endpoint="members")
def members_page() -> tuple[str, int]:
    require_owner()
    return _page()


@pages.post("/members/invite")
def member_invite() -> tuple[str, int]:
    require_owner()
    form = {key: request.form.get(key, "").strip() for key in ("email", "role", "delivery")}
    if form["delivery"] != COPY and form["delivery"] not in {c.name for c in smtp_connections(
            g.identity.workspace_id)}:
        return _page(422, invite=form, errors={"delivery": "choose one of the workspace's email connections"})
    try:
        created = invitations.create(g.identity.workspace_id, form["email"], form["role"], invited_by=current_user)
    except invitations.InvitationError as exc:
        return _page(422, invite=form, errors={exc.field or "email": str(exc)})
    link = absolute_url(invitations.PATH + created.token)
    email = created.invitation.email
    if form["delivery"] == COPY:
        return _page(201, new_link=link, new_email=email)
    try:
        invitations.deliver(created, form["delivery"], link)
    except ConnectorError as exc:
        return _page(201, new_link=link, new_email=email, delivery_error=exc.message)
    flash(f"The invitation is on its way to {email} through “{form['delivery']}”.", "success")
    return _page(201)


@pages.post("/members/<int:user_id>/role")
def member_role(user_id: int) -> tuple[str, int] | Response:
    require_owner()
    membership = _membership(user_id)
    try:
        changed = members.change_role(membership, request.form.get("role", ""), actor=current_user)
    except members.MemberError as exc:
        return _page(422, row_error=(user_id, str(exc)))
    if changed:
        flash(f"{membership.user.email} is now {membership.role}.", "success")
    return redirect(url_for("pages.members"))


@pages.post("/members/<int:user_id>/remove")
def member_remove(user_id: int) -> tuple[str, int] | Response:
    require_owner()
    membership = _membership(user_id)
    email = membership.user.email
    try:
        revoked = members.remove_member(membership, actor=current_user)
    except members.MemberError as exc:
        return _page(422, row_error=(user_id, str(exc)))
    tokens = f" and {revoked} API token{'s' if revoked != 1 else ''} revoked" if revoked else ""
    flash(f"{email} is no longer a member of this workspace{tokens}.", "success")
    return redirect(url_for("pages.members"))


@pages.post("/members/invitations/<int:invitation_id>/revoke")
def invitation_revoke(invitation_id: int) -> Response:
    require_owner()
    invitation = db.session.scalar(scoped(Invitation).where(Invitation.id == invitation_id)) \
        if invitation_id <= MAX_ID else None
    if invitation is None:
        abort(404, description="no such invitation in this workspace")
    if invitations.revoke(invitation, actor=current_user):
        flash(f"The invitation of {invitation.email} is withdrawn; its link no longer works.", "success")
    else:
        flash(f"The invitation of {invitation.email} was already {invitations.status(invitation)}.", "info")
    return redirect(url_for("pages.members"))
