"""REST API v1, members and invitations (owners only): list members, change a role, remove a member; list,
create and revoke invitations. Another workspace's member or invitation is not found (404)."""

from __future__ import annotations

from flask import Response, g, jsonify, request

from automation import invitations, members
from automation.models import Invitation, Membership, Role, User, db
from automation.scoping import MAX_ID, get_or_404, scoped
from automation.web.api import api
from automation.web.errors import ApiError
from automation.web.request_input import json_object
from automation.web.serializers import absolute_url
from integrations.base import ConnectorError

ROLE_FIELDS = frozenset({"role"})
INVITATION_FIELDS = frozenset({"email", "role", "connection"})


def _owner() -> User:
    if g.identity.role != Role.OWNER:
        raise ApiError(403, "only an owner of the workspace can manage members and invitations")
    user = db.session.get(User, g.identity.user_id)
    assert user is not None  # authenticate_token refuses tokens of deleted users
    return user


def _membership(user_id: int) -> Membership:
    row = db.session.scalar(scoped(Membership).where(Membership.user_id == user_id)) if user_id <= MAX_ID else None
    if row is None:
        raise ApiError(404, f"no member with user id {user_id}")
    return row


def _fields(body: dict[str, object], allowed: frozenset[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(400, f"unknown field(s): {', '.join(unknown)}", details={"fields": unknown})


@api.get("/members")
def list_members() -> Response:
    _owner()
    rows = db.session.execute(members.members_query(g.identity.workspace_id)).all()
    return jsonify(items=[members.describe(membership, user) for membership, user in rows])


@api.patch("/members/<int:user_id>")
def change_member_role(user_id: int) -> Response:
    actor = _owner()
    membership = _membership(user_id)
    body = json_object()
    _fields(body, ROLE_FIELDS)
    if "role" not in body:
        raise ApiError(422, "role: required", details=[{"path": "role", "message": "required"}])
    try:
        members.change_role(membership, body["role"], actor=actor)
    except members.MemberError as exc:
        raise ApiError(exc.status, str(exc), details=[{"path": exc.field or "role", "message": str(exc)}]) from None
    return jsonify(members.describe(membership, membership.user))


@api.delete("/members/<int:user_id>")
def remove_member(user_id: int) -> tuple[str, int]:
    actor = _owner()
    try:
        members.remove_member(_membership(user_id), actor=actor)
    except members.MemberError as exc:
        raise ApiError(exc.status, str(exc)) from None
    return "", 204


@api.get("/invitations")
def list_invitations() -> Response:
    """Every invitation of the workspace, newest first; ``?status=pending`` (or accepted, revoked, expired)."""
    _owner()
    wanted = request.args.get("status")
    if wanted not in (None, "", "pending", "accepted", "revoked", "expired"):
        raise ApiError(400, "query parameter 'status' must be pending, accepted, revoked or expired",
                       details={"parameter": "status"})
    rows = db.session.scalars(scoped(Invitation).order_by(Invitation.created_at.desc(), Invitation.id.desc()))
    items = [invitations.describe(row) for row in rows]
    return jsonify(items=[item for item in items if not wanted or item["status"] == wanted])


@api.post("/invitations")
def create_invitation() -> tuple[Response, int]:
    """``{"email", "role", "connection"?}``: with an smtp connection's name the link is emailed, without one it
    is returned (``link``, this once). A failed email still answers 201, with ``delivery.error`` and the link."""
    actor = _owner()
    body = json_object()
    _fields(body, INVITATION_FIELDS)
    connection = body.get("connection")
    if connection is not None and not isinstance(connection, str):
        raise ApiError(400, "'connection' must be the name of an smtp connection")
    try:
        created = invitations.create(g.identity.workspace_id, body.get("email"), body.get("role", Role.EDITOR.value),
                                     invited_by=actor)
    except invitations.InvitationError as exc:
        raise ApiError(exc.status, str(exc), details=[{"path": exc.field or "email", "message": str(exc)}]) from None
    link = absolute_url(invitations.PATH + created.token)
    answer = invitations.describe(created.invitation)
    if connection is None:
        return jsonify({**answer, "link": link}), 201
    try:
        invitations.deliver(created, connection, link)
    except ConnectorError as exc:
        return jsonify({**answer, "link": link, "delivery": {"ok": False, "connection": connection,
                                                             "error": exc.message}}), 201
    return jsonify({**answer, "delivery": {"ok": True, "connection": connection}}), 201


@api.delete("/invitations/<int:invitation_id>")
def revoke_invitation(invitation_id: int) -> Response:
    actor = _owner()
    invitation = get_or_404(Invitation, invitation_id, "invitation")
    if not invitations.revoke(invitation, actor=actor):
        raise ApiError(409, f"the invitation is already {invitations.status(invitation)}")
    return jsonify(invitations.describe(invitation))

