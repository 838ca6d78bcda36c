"""Bearer-token authentication for ``/api/v1`` and the role rules for what a caller may change.

Viewers, approvers and read-only tokens may read; owners and editors may also write. Approval decisions
(later) get their own rule.
"""

from __future__ import annotations

from flask import g, request

from automation.accounts import authenticate_token
from automation.models import Role
from automation.web.errors import ApiError

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WRITERS = frozenset({Role.OWNER, Role.EDITOR})
REALM = "relay"


def require_token() -> None:
    """``before_request`` hook of the API blueprint: sets ``g.identity`` or answers 401/403.

    A 401 carries ``WWW-Authenticate`` as RFC 6750 asks, so clients know which scheme to use.
    """
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "send an API token as 'Authorization: Bearer <token>' (relay tokens create EMAIL)",
                       headers={"WWW-Authenticate": f'Bearer realm="{REALM}"'})
    identity = authenticate_token(token.strip())
    if identity is None:
        raise ApiError(401, "this API token is not valid (unknown or revoked)",
                       headers={"WWW-Authenticate": f'Bearer realm="{REALM}", error="invalid_token"'})
    g.identity = identity
    if request.method not in READ_METHODS and (identity.read_only or identity.role not in WRITERS):
        raise ApiError(403, f"a {'read-only token' if identity.read_only else identity.role.value} cannot make "
                            "changes; ask an owner for the editor role")
