"""People and credentials: creating users with a role in a workspace, and issuing/checking API tokens.

Tokens are 256-bit random strings shown once; only their SHA-256 is stored (a fast hash is right for
high-entropy secrets: there is nothing to brute-force).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from automation import audit
from automation.models import ApiToken, Membership, Role, User, Workspace, db, utcnow

TOKEN_PREFIX = "rly_"
LAST_USED_RESOLUTION = timedelta(minutes=1)
DEFAULT_WORKSPACE = "Default"


class AccountError(ValueError):
    """A user, workspace or token request that cannot be carried out (message says why)."""


@dataclass(frozen=True)
class TokenIdentity:
    """Who is calling, in which workspace, with which role: from an API token, or a signed-in session
    (``token_id`` None)."""

    token_id: int | None
    user_id: int
    workspace_id: int
    role: Role
    read_only: bool


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def default_workspace(create: bool = True) -> Workspace | None:
    """The first workspace (by id); created as "Default" on first use when ``create`` is set."""
    workspace = db.session.scalar(sa.select(Workspace).order_by(Workspace.id).limit(1))
    if workspace is None and create:
        workspace = Workspace(name=DEFAULT_WORKSPACE)
        db.session.add(workspace)
        db.session.flush()
    return workspace


def find_workspace(name: str | None) -> Workspace:
    if name is None:
        workspace = default_workspace()
        assert workspace is not None
        return workspace
    workspace = db.session.scalar(sa.select(Workspace).where(Workspace.name == name))
    if workspace is None:
        raise AccountError(f"no workspace named {name!r}")
    return workspace


def create_user(
    email: str, password: str, role: str = Role.OWNER.value, *, name: str = "", workspace: str | None = None,
    actor_label: str | None = None,
) -> User:
    """Create a user with ``role`` in ``workspace`` (default: the first one); a user who already has an
    account elsewhere is added to the workspace instead (their password stays as it is). Commits.

    ``actor_label`` names who did it in the audit trail (member.join); None records nothing, as for the
    first-run owner.

    Raises:
        AccountError: bad email, short password, unknown role, or the user is already a member there.
    """
    email = normal_email(email)
    role_value = parse_role(role)
    ws = find_workspace(workspace)
    user = db.session.scalar(sa.select(User).where(User.email == email))
    if user is not None:
        if _membership(user.id, ws.id) is not None:
            raise AccountError(f"a user with email {email} already exists")
    else:
        if len(password) < 8:
            raise AccountError("the password must have at least 8 characters")
        user = User(email=email, name=name, password_hash=generate_password_hash(password))
        db.session.add(user)
        db.session.flush()
    db.session.add(Membership(user_id=user.id, workspace_id=ws.id, role=role_value.value))
    if actor_label is not None:
        audit.record(ws.id, "member.join", "user", user.id, actor=None, actor_label=actor_label,
                     after={"email": user.email, "role": role_value.value})
    db.session.commit()
    return user


def normal_email(email: str) -> str:
    """``email`` trimmed and lower-cased. Raises AccountError when it is not an address."""
    email = email.strip().lower()
    local, at, domain = email.partition("@")
    if not at or not local or not domain or "@" in domain or any(ch.isspace() for ch in email) or len(email) > 320:
        raise AccountError(f"{email!r} is not an email address")
    return email


def parse_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise AccountError(f"unknown role {role!r}; choose one of {', '.join(r.value for r in Role)}") from None


def issue_token(user_id: int, workspace_id: int, *, name: str = "", read_only: bool = False) -> tuple[ApiToken, str]:
    """Add a token row to the session (the caller commits); the row and the token, visible this once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user_id, workspace_id=workspace_id, name=name, token_hash=hash_token(token),
                   prefix=token[:10], read_only=read_only)
    db.session.add(row)
    db.session.flush()
    return row, token


def create_api_token(email: str, *, workspace: str | None = None, name: str = "", read_only: bool = False,
                     actor_label: str | None = None) -> str:
    """Issue a bearer token for the user in the workspace and return it (the only time it is visible).
    ``actor_label`` names who did it in the audit trail (token.create); None records nothing.

    Raises:
        AccountError: unknown user, or the user is not a member of the workspace.
    """
    user = db.session.scalar(sa.select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise AccountError(f"no user with email {email}")
    ws = find_workspace(workspace)
    if _membership(user.id, ws.id) is None:
        raise AccountError(f"{user.email} is not a member of workspace {ws.name!r}")
    row, token = issue_token(user.id, ws.id, name=name, read_only=read_only)
    if actor_label is not None:
        audit.record(ws.id, "token.create", "token", row.id, actor=None, actor_label=actor_label,
                     after=describe_token(row))
    db.session.commit()
    return token


def describe_token(row: ApiToken) -> dict[str, Any]:
    """A token as the API shows it: never the token or its hash."""
    return {"id": row.id, "name": row.name, "prefix": row.prefix, "read_only": row.read_only,
            "user": row.user.email if row.user else None, "created_at": _iso(row.created_at),
            "last_used_at": _iso(row.last_used_at), "revoked_at": _iso(row.revoked_at)}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def authenticate_token(token: str) -> TokenIdentity | None:
    """The identity behind a bearer token, or None if it is unknown, revoked or its user is gone.

    Read from the database on every request, so a revoked token (or a removed member's) stops at once.
    """
    row = db.session.scalar(
        sa.select(ApiToken).where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))
    )
    if row is None or not row.user.is_active:
        return None
    membership = _membership(row.user_id, row.workspace_id)
    if membership is None:
        return None
    now = utcnow()
    # One write a minute per token is enough to show "last used" and keeps reads from writing each time.
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        row.last_used_at = now
        db.session.commit()
    return TokenIdentity(row.id, row.user_id, row.workspace_id, Role(membership.role), row.read_only)


def has_users() -> bool:
    return db.session.scalar(sa.select(User.id).limit(1)) is not None


def check_password(email: str, password: str) -> User | None:
    """The active user with this email and password, or None (the same answer for either being wrong)."""
    user = db.session.scalar(sa.select(User).where(User.email == email.strip().lower()))
    if user is None or not user.is_active or not user.password_hash:
        # Hash anyway, so the answer takes as long for an unknown email as for a wrong password.
        check_password_hash(_DUMMY_HASH, password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def change_password(user: User, current: str, new: str) -> None:
    """Raises AccountError when ``current`` is wrong or ``new`` too short. Commits."""
    if not user.password_hash or not check_password_hash(user.password_hash, current):
        raise AccountError("the current password is not right")
    if len(new) < 8:
        raise AccountError("the new password must have at least 8 characters")
    user.password_hash = generate_password_hash(new)
    db.session.commit()


def session_identity(user: User, workspace_id: int | None = None) -> TokenIdentity | None:
    """The identity of a signed-in user in the workspace the session chose, if they are still a member
    there, else in their first workspace; None without any membership."""
    if not user.is_active:
        return None
    membership = _membership(user.id, workspace_id) if workspace_id is not None else None
    if membership is None:
        membership = db.session.scalar(
            sa.select(Membership).where(Membership.user_id == user.id).order_by(Membership.workspace_id).limit(1)
        )
    if membership is None:
        return None
    return TokenIdentity(None, user.id, membership.workspace_id, Role(membership.role), False)


_DUMMY_HASH = generate_password_hash("relay-timing-equaliser")


def _membership(user_id: int, workspace_id: int) -> Membership | None:
    return db.session.scalar(
        sa.select(Membership).where(Membership.user_id == user_id, Membership.workspace_id == workspace_id)
    )
