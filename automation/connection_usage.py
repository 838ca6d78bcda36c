"""Which workflows use which connection: the published version of each workflow names a connection in a
step's ``connection`` or in ``trigger.verify.connection``, by name or id, possibly as ``{{ params.x }}``.

References are rendered with the version's params like ``workflow_checks`` does; a reference that only a
run can resolve (it reads the trigger or an earlier step) names no connection here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from automation.definitions import DefinitionError, Step, parse
from automation.expressions import ExpressionError, Renderer
from automation.models import Connection, Workflow, WorkflowStatus, WorkflowVersion, db


@dataclass(frozen=True)
class WorkflowUse:
    """A workflow whose published version names a connection."""

    id: int
    name: str
    status: str

    @property
    def active(self) -> bool:
        return self.status == WorkflowStatus.ACTIVE.value


def connection_users(workspace_id: int) -> dict[int, list[WorkflowUse]]:
    """For each connection id of the workspace, the published workflows naming it (sorted by name)."""
    connections = db.session.execute(
        sa.select(Connection.id, Connection.name).where(Connection.workspace_id == workspace_id)).all()
    by_name = {name: connection_id for connection_id, name in connections}
    ids = set(by_name.values())
    rows = db.session.execute(
        sa.select(Workflow.id, Workflow.name, Workflow.status, WorkflowVersion.definition, WorkflowVersion.params)
        .join(WorkflowVersion, WorkflowVersion.id == Workflow.current_version_id)
        .where(Workflow.workspace_id == workspace_id)
        .order_by(Workflow.name, Workflow.id)
    ).all()
    users: dict[int, list[WorkflowUse]] = {}
    renderer = Renderer()
    for workflow_id, name, status, definition, params in rows:
        named = set()
        for reference in _references(definition):
            text = _rendered(renderer, reference, params or {})
            if text is None:
                continue
            if text in by_name:
                named.add(by_name[text])
            elif text.isdigit() and int(text) in ids:
                named.add(int(text))
        for connection_id in sorted(named):
            users.setdefault(connection_id, []).append(WorkflowUse(workflow_id, name, status))
    return users


def active_users(workspace_id: int, connection_id: int) -> list[WorkflowUse]:
    """The active workflows that would break if the connection went away."""
    return [use for use in connection_users(workspace_id).get(connection_id, []) if use.active]


def _references(definition: Any) -> Iterator[Any]:
    try:
        parsed = parse(definition)
    except DefinitionError:
        return
    for step in _steps(parsed.steps):
        if step.connection is not None:
            yield step.connection
    verify = parsed.trigger.options.get("verify")
    if isinstance(verify, Mapping) and verify.get("connection"):
        yield verify["connection"]


def _steps(steps: tuple[Step, ...]) -> Iterator[Step]:
    for step in steps:
        yield step
        yield from _steps(step.steps)


def _rendered(renderer: Renderer, reference: Any, params: Mapping[str, Any]) -> str | None:
    try:
        value = renderer.render(reference, {"params": dict(params)}, "connection")
    except ExpressionError:
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    return str(value).strip() or None
