"""Checks of a workflow version against its workspace, beyond what the definition alone can say: every
connection a step or a webhook's verification names exists there and is of the type the action needs.

Publishing runs them, and web and worker processes run them over every active workflow at start-up, so
a workflow broken by a deleted connection is reported before its next run fails on it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import Flask

from automation import connections
from automation.definitions import DefinitionError, Problem, Step, parse
from automation.expressions import ExpressionError, Renderer
from automation.models import Workflow, WorkflowStatus, WorkflowVersion, db
from integrations.registry import find_action

log = logging.getLogger(__name__)

VERIFY_CONNECTION_TYPE = "webhook_secret"


@dataclass(frozen=True)
class WorkflowHealth:
    checked: int
    invalid: dict[int, list[Problem]]


def version_problems(workspace_id: int, definition: Any, params: Mapping[str, Any]) -> list[Problem]:
    """Every problem of the definition, then of the connections it names in the workspace."""
    try:
        parsed = parse(definition)
    except DefinitionError as exc:
        return exc.problems
    renderer = Renderer()
    problems: list[Problem] = []
    for step in _steps(parsed.steps):
        found = find_action(step.uses)
        if step.connection is None or found is None or found[0].connection_type is None:
            continue
        problem = _connection_problem(workspace_id, renderer, step.connection, params, found[0].connection_type,
                                      f"steps.{step.id}.connection", step.uses)
        if problem:
            problems.append(problem)
    verify = parsed.trigger.options.get("verify")
    if isinstance(verify, Mapping) and verify.get("connection"):
        problem = _connection_problem(workspace_id, renderer, verify["connection"], params, VERIFY_CONNECTION_TYPE,
                                      "trigger.verify.connection", "webhook verification")
        if problem:
            problems.append(problem)
    return problems


def active_workflow_health() -> WorkflowHealth:
    """Check the published version of every active workflow, in every workspace."""
    rows = db.session.execute(
        sa.select(Workflow.id, Workflow.workspace_id, WorkflowVersion.definition, WorkflowVersion.params)
        .join(WorkflowVersion, WorkflowVersion.id == Workflow.current_version_id)
        .where(Workflow.status == WorkflowStatus.ACTIVE.value)
    ).all()
    invalid = {}
    for workflow_id, workspace_id, definition, params in rows:
        problems = version_problems(workspace_id, definition, params or {})
        if problems:
            invalid[workflow_id] = problems
    return WorkflowHealth(len(rows), invalid)


def log_workflow_health(app: Flask, process: str) -> None:
    """One line at start-up with the counts, and one per workflow that no longer validates."""
    with app.app_context():
        try:
            health = active_workflow_health()
        except sa.exc.DBAPIError as exc:
            log.warning("%s: could not check the active workflows (%s); run `relay db upgrade`?", process,
                        str(exc.orig).strip().splitlines()[0] if exc.orig else exc)
            db.session.rollback()
            return
        finally:
            db.session.remove()
    log.info("%s: %d active workflow(s), %d valid, %d invalid", process, health.checked,
             health.checked - len(health.invalid), len(health.invalid))
    for workflow_id, problems in health.invalid.items():
        log.warning("workflow %s no longer validates; its runs will fail: %s", workflow_id,
                    "; ".join(str(p) for p in problems[:5]))


def _steps(steps: tuple[Step, ...]) -> Iterator[Step]:
    for step in steps:
        yield step
        yield from _steps(step.steps)


def _connection_problem(workspace_id: int, renderer: Renderer, reference: Any, params: Mapping[str, Any],
                        needed: str, path: str, user: str) -> Problem | None:
    try:
        name = renderer.render(reference, {"params": dict(params)}, path)
    except ExpressionError:
        return None  # chosen from the run's data (trigger, earlier steps): only the run can tell
    if not isinstance(name, str | int) or not str(name).strip():
        return Problem(path, "names no connection")
    connection = connections.find(workspace_id, name)
    if connection is None:
        return Problem(path, f"connection {str(name).strip()!r} does not exist in this workspace")
    if connection.connector != needed:
        return Problem(path, f"{user} needs a {needed} connection, but {connection.name!r} is a "
                             f"{connection.connector} connection")
    return None
