"""Checks of a workflow version against its workspace, beyond what the definition alone can say: every
connection a step or a webhook's verification names exists there and is of the type the action needs.

Publishing runs them, and web and worker processes run them over every active workflow at start-up, so
a workflow broken by a deleted connection is reported before its next run fails on it.

Saving a draft only refuses connection ids (a numeric reference) that are not the workspace's: a draft may
name a connection by a name that is created later, but an id can only ever mean one row, and another
workspace's row must look exactly like a missing one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import Flask

from automation import connections
from automation.definitions import Definition, DefinitionError, Problem, Step, parse
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
    for reference in _references(parsed):
        problem = _connection_problem(workspace_id, renderer, reference.value, params, reference.needed,
                                      reference.path, reference.user)
        if problem:
            problems.append(problem)
    return problems


def foreign_id_problems(workspace_id: int, definition: Any, params: Mapping[str, Any]) -> list[Problem]:
    """A problem (path under ``definition.``) for each connection id the definition names, directly or through
    params, that is not a connection of the workspace: one of another workspace is reported as missing.

    A definition that does not parse has no references to check here; its own problems are reported by
    ``workflows.check_definition``.
    """
    try:
        parsed = parse(definition)
    except DefinitionError:
        return []
    renderer = Renderer()
    problems = []
    for reference in _references(parsed):
        try:
            value = renderer.render(reference.value, {"params": dict(params)}, reference.path)
        except ExpressionError:
            continue
        text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
        if text.isdigit() and connections.find(workspace_id, text) is None:
            problems.append(Problem(f"definition.{reference.path}", _missing(text)))
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


@dataclass(frozen=True)
class _Reference:
    """A connection named by the definition: where, as written, which type it needs and for what."""

    path: str
    value: Any
    needed: str
    user: str


def _references(parsed: Definition) -> Iterator[_Reference]:
    for step in _steps(parsed.steps):
        found = find_action(step.uses)
        if step.connection is None or found is None or found[0].connection_type is None:
            continue
        yield _Reference(f"steps.{step.id}.connection", step.connection, found[0].connection_type, step.uses)
    verify = parsed.trigger.options.get("verify")
    if isinstance(verify, Mapping) and verify.get("connection"):
        yield _Reference("trigger.verify.connection", verify["connection"], VERIFY_CONNECTION_TYPE,
                         "webhook verification")


def _steps(steps: tuple[Step, ...]) -> Iterator[Step]:
    for step in steps:
        yield step
        yield from _steps(step.steps)


def _missing(name: str) -> str:
    return f"connection {name!r} does not exist in this workspace"


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
        return Problem(path, _missing(str(name).strip()))
    if connection.connector != needed:
        return Problem(path, f"{user} needs a {needed} connection, but {connection.name!r} is a "
                             f"{connection.connector} connection")
    return None
