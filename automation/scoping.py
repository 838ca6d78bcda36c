"""The one place queries are limited to the caller's workspace.

Views never filter by workspace themselves: they ask ``scoped(Model)`` for a SELECT already restricted
to ``g.identity.workspace_id``, or ``get_or_404`` for one row. A row of another workspace is reported as
not found — never forbidden — so ids do not reveal what other tenants have.
"""

from __future__ import annotations

from typing import Any, TypeVar

import sqlalchemy as sa
from flask import g

from automation.models import db
from automation.web.errors import ApiError

M = TypeVar("M")

# Ids are 32-bit INTEGER keys on PostgreSQL; a larger number would be a database error, not a miss.
MAX_ID = 2**31 - 1


def current_workspace_id() -> int:
    identity = getattr(g, "identity", None)
    if identity is None:
        raise ApiError(401, "sign in or send an API token")
    return int(identity.workspace_id)


def scoped(model: type[M]) -> sa.Select[tuple[M]]:
    return sa.select(model).where(model.workspace_id == current_workspace_id())  # type: ignore[attr-defined]


def get_or_404(model: type[M], object_id: Any, what: str | None = None) -> M:
    try:
        key = int(object_id)
    except (TypeError, ValueError):
        key = 0
    row = None
    if 0 < key <= MAX_ID:
        row = db.session.scalar(scoped(model).where(model.id == key))  # type: ignore[attr-defined]
    if row is None:
        raise ApiError(404, f"no {what or model.__name__.lower()} with id {object_id}")
    return row
