"""Bearer-token authentication for ``/api/v1`` and the role rules for what a caller may change.

Viewers, approvers and read-only tokens may read; owners and editors may also write. Approval decisions
(views marked ``@decision``) have their own rule: owners, editors and approvers may make them with a token
that is not read-only, and automation/approvals.py then checks the task is theirs to decide.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import current_app, g, request

from automation.accounts import authenticate_token
from automation.approvals import DECIDERS
from automation.models import Role
from automation.web.errors import ApiError

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WRITERS = frozenset({Role.OWNER, Role.EDITOR})
REALM = "relay"

View = TypeVar("View", bound=Callable[..., object])


def decision(view: View) -> View:
    """Mark an API view as an approval decision, so the decision rule applies to it instead of the writer rule."""
    view.approval_decision = True  # type: ignore[attr-defined]
    return view


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
    if request.method in READ_METHODS:
        return
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "approval_decision", False):
        if identity.read_only:
            raise ApiError(403, "a read-only token cannot decide approvals; use a token that is not read-only")
        if identity.role not in DECIDERS:
            raise ApiError(403, f"a {identity.role.value} cannot decide approvals; ask an owner for the approver role")
        return
    if identity.read_only or identity.role not in WRITERS:
        raise ApiError(403, f"a {'read-only token' if identity.read_only else identity.role.value} cannot make "
                            "changes; ask an owner for the editor role")
