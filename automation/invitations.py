"""Invitations: an owner invites an email address to the workspace with a role, by a signed link.

The link is ``/invitations/<token>``: an itsdangerous token, signed with the app's SECRET_KEY under its own
salt, over the invitation's id and a random nonce; nothing secret is stored. It expires with the invitation
(``RELAY_INVITATION_DAYS``, default 7), works once (accepting is a compare-and-set on ``accepted_at``, which
also checks the invitation is neither revoked nor expired), and stops working when an owner revokes it.
Accepting creates the account or links the existing one, and adds the membership in the same transaction.
Audit: member.invite, invitation.revoke, member.join.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.exc import IntegrityError
from werkzeug.security import generate_password_hash

from automation import audit
from automation.accounts import AccountError, normal_email, parse_role
from automation.connection_mail import send_email
from automation.models import Invitation, Membership, User, Workspace, db, utcnow
from automation.scoping import ALL_WORKSPACES

SALT = "relay-invitation"
PATH = "/invitations/"
DAYS_SETTING = "RELAY_INVITATION_DAYS"
MIN_PASSWORD = 8


class InvitationError(AccountError):
    """A request about an invitation that is refused; ``field`` names the input at fault, ``status`` the answer."""

    def __init__(self, message: str, field: str | None = None, status: int = 422) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


class LinkProblem(Exception):
    """Why a link cannot be used: ``state`` is refused (not a genuine link), revoked, expired or used."""

    def __init__(self, state: str, message: str, invitation: Invitation | None = None) -> None:
        super().__init__(message)
        self.state = state
        self.message = message
        self.invitation = invitation


@dataclass(frozen=True)
class Created:
    invitation: Invitation
    token: str


def status(invitation: Invitation, now: datetime | None = None) -> str:
    if invitation.accepted_at is not None:
        return "accepted"
    if invitation.revoked_at is not None:
        return "revoked"
    return "expired" if (now or utcnow()) >= invitation.expires_at else "pending"


def describe(invitation: Invitation) -> dict[str, Any]:
    """An invitation as the API shows it: never its link."""
    inviter = invitation.invited_by
    return {"id": invitation.id, "email": invitation.email, "role": invitation.role,
            "status": status(invitation), "invited_by": inviter.email if inviter else None,
            "created_at": invitation.created_at.isoformat(), "expires_at": invitation.expires_at.isoformat(),
            "accepted_at": _iso(invitation.accepted_at), "revoked_at": _iso(invitation.revoked_at)}


def pending(workspace_id: int) -> sa.Select[tuple[Invitation]]:
    return (sa.select(Invitation)
            .where(Invitation.workspace_id == workspace_id, Invitation.accepted_at.is_(None),
                   Invitation.revoked_at.is_(None), Invitation.expires_at > utcnow())
            .order_by(Invitation.created_at.desc(), Invitation.id.desc()))


def create(workspace_id: int, email: Any, role: Any, *, invited_by: User) -> Created:
    """Invite ``email`` with ``role``. Commits, with its member.invite audit entry.

    Raises:
        InvitationError: a bad email or role (422), or the person is already a member or invited (409).
    """
    if not isinstance(email, str):
        raise InvitationError("email must be a string", "email", status=400)
    if not isinstance(role, str):
        raise InvitationError("role must be a string", "role", status=400)
    try:
        address = normal_email(email)
    except AccountError as exc:
        raise InvitationError(str(exc), "email") from None
    try:
        role_value = parse_role(role)
    except AccountError as exc:
        raise InvitationError(str(exc), "role") from None
    member = db.session.scalar(
        sa.select(Membership.id).join(User, User.id == Membership.user_id)
        .where(Membership.workspace_id == workspace_id, User.email == address))
    if member is not None:
        raise InvitationError(f"{address} is already a member of this workspace", "email", status=409)
    if db.session.scalar(pending(workspace_id).where(Invitation.email == address)) is not None:
        raise InvitationError(f"{address} already has a pending invitation; revoke it to send a new one", "email",
                              status=409)
    now = utcnow()
    invitation = Invitation(workspace_id=workspace_id, email=address, role=role_value.value,
                            invited_by_id=invited_by.id, nonce=secrets.token_urlsafe(16), created_at=now,
                            expires_at=now + timedelta(days=int(current_app.config[DAYS_SETTING])))
    db.session.add(invitation)
    db.session.flush()
    audit.record(workspace_id, "member.invite", "invitation", invitation.id, actor=invited_by,
                 after=describe(invitation))
    db.session.commit()
    return Created(invitation, sign(invitation))


def sign(invitation: Invitation) -> str:
    return _serializer().dumps({"invitation": invitation.id, "nonce": invitation.nonce})


def read(token: str, now: datetime | None = None) -> Invitation:
    """The pending invitation ``token`` is the link of.

    Raises:
        LinkProblem: a tampered or foreign link, or an invitation that is gone, revoked, expired or used.
    """
    try:
        data: Any = _serializer().loads(token)
        invitation_id, nonce = int(data["invitation"]), str(data["nonce"])
    except (BadSignature, KeyError, TypeError, ValueError):
        raise LinkProblem("refused", "this link was changed or cut short, or is not a Relay invitation") from None
    # The signed link is the authority: the reader may be signed in to another workspace, or not at all.
    invitation = db.session.get(Invitation, invitation_id, execution_options=ALL_WORKSPACES)
    if invitation is None or not secrets.compare_digest(invitation.nonce, nonce):
        raise LinkProblem("refused", "this invitation no longer exists")
    check_usable(invitation, now)
    return invitation


def check_usable(invitation: Invitation, now: datetime | None = None) -> None:
    """Raises LinkProblem when the invitation was accepted or revoked, or has expired."""
    state = status(invitation, now)
    if state == "accepted":
        raise LinkProblem("used", "this invitation was already accepted; each link works once", invitation)
    if state == "revoked":
        raise LinkProblem("revoked", "this invitation was withdrawn by an owner of the workspace", invitation)
    if state == "expired":
        raise LinkProblem("expired", f"this invitation expired at {invitation.expires_at:%Y-%m-%d %H:%M} UTC",
                          invitation)


def accept(invitation: Invitation, user: User | None, *, name: str = "", password: str = "") -> User:
    """Join the workspace as ``user`` (signed in with the invited email), or as a new account made from
    ``name`` and ``password``. Commits the membership with its member.join entry.

    Raises:
        LinkProblem: someone used, or an owner revoked, the invitation meanwhile, or it expired.
        InvitationError: ``user`` has another email, the new password is too short, or an account with the
            email exists already (sign in instead).
    """
    if user is not None and user.email != invitation.email:
        raise InvitationError(f"this invitation is for {invitation.email}, not {user.email}", status=403)
    if user is None:
        if len(password) < MIN_PASSWORD:
            raise InvitationError(f"the password must have at least {MIN_PASSWORD} characters", "password")
        if db.session.scalar(sa.select(User.id).where(User.email == invitation.email)) is not None:
            raise InvitationError(f"an account for {invitation.email} exists already: sign in to accept",
                                  status=409)
    now = utcnow()
    won = db.session.execute(
        sa.update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None),
               Invitation.expires_at > now)
        .values(accepted_at=now).execution_options(synchronize_session=False)
    ).rowcount == 1
    if not won:
        db.session.rollback()
        db.session.refresh(invitation)
        check_usable(invitation, now)  # raises the LinkProblem that says what happened
        raise LinkProblem("used", "this invitation was already accepted; each link works once", invitation)
    try:
        if user is None:
            user = User(email=invitation.email, name=name.strip(), password_hash=generate_password_hash(password))
            db.session.add(user)
            db.session.flush()
        already = db.session.scalar(sa.select(Membership.id).where(
            Membership.user_id == user.id, Membership.workspace_id == invitation.workspace_id))
        if already is None:
            db.session.add(Membership(user_id=user.id, workspace_id=invitation.workspace_id, role=invitation.role))
            audit.record(invitation.workspace_id, "member.join", "user", user.id, actor=user,
                         after={"email": user.email, "role": invitation.role, "invitation": invitation.id})
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise InvitationError(f"an account for {invitation.email} was created meanwhile: sign in to accept",
                              status=409) from None
    db.session.refresh(invitation)
    return user


def revoke(invitation: Invitation, *, actor: User) -> bool:
    """Withdraw a pending invitation; False when it was already accepted or revoked. Commits."""
    before = describe(invitation)
    done = db.session.execute(
        sa.update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None))
        .values(revoked_at=utcnow()).execution_options(synchronize_session=False)
    ).rowcount == 1
    if done:
        db.session.refresh(invitation)
        audit.record(invitation.workspace_id, "invitation.revoke", "invitation", invitation.id, actor=actor,
                     before=before, after=describe(invitation))
    db.session.commit()
    return done


def deliver(created: Created, connection: str, link: str) -> None:
    """Email the link to the invited address through the workspace's smtp ``connection``.

    Raises:
        ConnectorError: the connection is missing or the mail server refused (secrets redacted).
    """
    invitation = created.invitation
    workspace = db.session.get(Workspace, invitation.workspace_id)
    inviter = invitation.invited_by
    who = (inviter.name or inviter.email) if inviter else "An owner"
    where = workspace.name if workspace else "a workspace"
    text = "\n".join([
        f"{who} invited you to the workspace “{where}” on Relay, as {invitation.role}.", "",
        f"Accept the invitation: {link}", "",
        f"The link works once and expires at {invitation.expires_at:%Y-%m-%d %H:%M} UTC. If you did not expect "
        "this invitation, ignore this email.",
    ])
    send_email(invitation.workspace_id, connection, to=invitation.email,
               subject=f"You are invited to {where} on Relay"[:900], text=text,
               message_key=f"invitation-{invitation.id}-{invitation.nonce}")


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
