"""API tokens as people manage them in the pages and the API: list, create and revoke, each change audited.

A token's rights are its owner's membership at the moment it is used (automation/accounts.authenticate_token),
narrowed by ``read_only``; so a token can never do more than its creator. A viewer can only read, so their
tokens are stored read-only, to show what they can do. Members see their own tokens; owners see and may
revoke every token of the workspace. The token itself is returned once by ``create`` and never stored,
shown or audited.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from automation import audit
from automation.accounts import AccountError, TokenIdentity, describe_token, issue_token
from automation.models import ApiToken, Role, User, db, utcnow

MAX_NAME = 120


class TokenError(AccountError):
    """A token request that is refused; ``field`` names the input at fault, ``status`` the HTTP answer."""

    def __init__(self, message: str, field: str | None = None, status: int = 422) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


def visible(identity: TokenIdentity) -> sa.Select[tuple[ApiToken]]:
    """The workspace's tokens the caller may see: an owner's every one, anyone else's their own."""
    query = sa.select(ApiToken).where(ApiToken.workspace_id == identity.workspace_id)
    if identity.role != Role.OWNER:
        query = query.where(ApiToken.user_id == identity.user_id)
    return query.order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(), ApiToken.id.desc())


def create(identity: TokenIdentity, actor: User, name: Any, read_only: Any) -> tuple[ApiToken, str]:
    """A new token of the caller in the caller's workspace: the row and the token (shown this once). Commits.

    Raises:
        TokenError: a bad name or flag, or the caller's own token is read-only.
    """
    if identity.read_only:
        raise TokenError("a read-only token cannot create tokens; use the pages or a token that is not read-only",
                         status=403)
    if name is None:
        name = ""
    if not isinstance(name, str):
        raise TokenError("name must be a string", "name", status=400)
    name = name.strip()
    if len(name) > MAX_NAME:
        raise TokenError(f"name has at most {MAX_NAME} characters", "name")
    if any(ch < " " or ch == "\x7f" for ch in name):
        raise TokenError("name has no line breaks or control characters", "name")
    if not isinstance(read_only, bool):
        raise TokenError("read_only must be true or false", "read_only", status=400)
    row, token = issue_token(identity.user_id, identity.workspace_id, name=name,
                             read_only=read_only or identity.role == Role.VIEWER)
    audit.record(identity.workspace_id, "token.create", "token", row.id, actor=actor, after=describe_token(row))
    db.session.commit()
    return row, token


def revoke(row: ApiToken, actor: User) -> bool:
    """Revoke the token now; False when it already was (nothing changes, nothing is audited). Commits."""
    before = describe_token(row)
    revoked = db.session.execute(
        sa.update(ApiToken).where(ApiToken.id == row.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow()).execution_options(synchronize_session=False)
    ).rowcount == 1
    if revoked:
        db.session.refresh(row)
        audit.record(row.workspace_id, "token.revoke", "token", row.id, actor=actor, before=before,
                     after=describe_token(row))
    db.session.commit()
    return revoked
