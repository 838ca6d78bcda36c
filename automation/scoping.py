"""The one place queries are limited to the caller's workspace.

While a request has ``g.identity`` (an API token or a signed-in session), a session event adds
``workspace_id == <the caller's workspace>`` to every ORM SELECT of a ``WorkspaceScoped`` model, joins,
subqueries, aliases and lazy loads included, so a view that forgets a filter still sees only its own
tenant. Workers, the scheduler, the CLI, webhooks and code outside a request have no identity and are
untouched. The few places where something else is the authority (a signed approval link) opt out with
``execution_options(**ALL_WORKSPACES)``.

``scoped(Model)`` and ``get_or_404`` say the same thing explicitly, and still work where the event does
not apply. A row of another workspace is reported as not found — never forbidden — so ids do not reveal
what other tenants have.
"""

from __future__ import annotations

from typing import Any, TypeVar

import sqlalchemy as sa
from flask import g, has_request_context
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, with_loader_criteria

from automation.models.base import WorkspaceScoped, db
from automation.web.errors import ApiError

M = TypeVar("M")

# Ids are 32-bit INTEGER keys on PostgreSQL; a larger number would be a database error, not a miss.
MAX_ID = 2**31 - 1
OPT_OUT = "all_workspaces"
ALL_WORKSPACES: dict[str, Any] = {OPT_OUT: True}


def current_workspace_id() -> int:
    identity = getattr(g, "identity", None)
    if identity is None:
        raise ApiError(401, "sign in or send an API token")
    return int(identity.workspace_id)


def request_workspace_id() -> int | None:
    """The workspace every query of this request is limited to; None outside a request or before sign-in.

    Only a request context counts: tests and CLI commands keep an app context (and its ``g``) around after
    a request has ended, and must not stay limited to that request's workspace.
    """
    if not has_request_context():
        return None
    identity = g.get("identity")
    return None if identity is None else int(identity.workspace_id)


def scoped(model: type[M]) -> sa.Select[tuple[M]]:
    return sa.select(model).where(model.workspace_id == current_workspace_id())  # type: ignore[attr-defined]


def get_or_404(model: type[M], object_id: Any, what: str | None = None) -> M:
    """The caller's row with this id, or a 404 ApiError.

    Always a SELECT, never ``session.get``: an object already in the identity map (loaded by a worker, a
    test or an earlier query in this session) would come back from ``get`` without any query, so without
    any workspace condition.
    """
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


def _limit_to_workspace(state: ORMExecuteState) -> None:
    # Column loads refresh rows already loaded (under this criteria, or deliberately without it).
    if not state.is_select or state.is_column_load or state.execution_options.get(OPT_OUT):
        return
    workspace_id = request_workspace_id()
    if workspace_id is None:
        return
    state.statement = state.statement.options(
        with_loader_criteria(WorkspaceScoped, lambda cls: cls.workspace_id == workspace_id, include_aliases=True)
    )


def install(database: SQLAlchemy) -> None:
    """Attach the workspace criteria to the sessions of ``database`` (once, however many apps are built)."""
    if not event.contains(database.session, "do_orm_execute", _limit_to_workspace):
        event.listen(database.session, "do_orm_execute", _limit_to_workspace)
