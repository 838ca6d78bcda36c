"""Fixtures for retention: a workspace, published workflows (optionally with their own retention_days), and
runs placed at a chosen age with a step run, status history and an approval task each, so a test can tell
exactly which rows retention removed; schedule fires and audit entries of a chosen age. Ages are days
before now; the default retention is 30 days. ``@pytest.mark.settings(NAME=value)`` changes a setting."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from automation import workflows
from automation.models import (
    ApprovalTask,
    AuditLog,
    Execution,
    ExecutionEvent,
    ScheduleFire,
    StepRun,
    Workflow,
    Workspace,
    db,
    utcnow,
)
from tests.scheduler.conftest import make_process  # noqa: F401 - the in-process scheduler fixture

OLD = 40     # days: past the default retention of 30
FRESH = 5    # days: well within it
CHILDREN = (StepRun, ExecutionEvent, ApprovalTask)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "settings(**values): app settings for this test only")


@pytest.fixture
def settings(settings: dict[str, Any], request: pytest.FixtureRequest) -> dict[str, Any]:
    marker = request.node.get_closest_marker("settings")
    return {**settings, **(marker.kwargs if marker else {})}


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


@pytest.fixture
def workspace(ctx: Flask) -> Workspace:
    workspace = Workspace(name="Acme")
    db.session.add(workspace)
    db.session.commit()
    return workspace


@pytest.fixture
def make_workflow(workspace: Workspace) -> Callable[..., Workflow]:
    def make(retention_days: int | None = None, name: str = "Greeter") -> Workflow:
        definition = {"trigger": {"type": "manual"}, "steps": [{"id": "greet", "uses": "core.set", "with": {"x": 1}}]}
        workflow = workflows.publish(workflows.create_workflow(workspace.id, name, definition))
        workflow.retention_days = retention_days
        db.session.commit()
        return workflow

    return make


@pytest.fixture
def make_run() -> Callable[..., int]:
    """A run of ``workflow`` with ``status``, finished (or, unfinished, created) ``days_ago``; its id."""

    def make(workflow: Workflow, status: str = "succeeded", days_ago: float = OLD, output: str = "") -> int:
        moment = utcnow() - timedelta(days=days_ago)
        finished = status in ("succeeded", "failed", "cancelled")
        execution = Execution(
            workspace_id=workflow.workspace_id, workflow_id=workflow.id, version_id=workflow.current_version_id,
            status=status, trigger_kind="manual", trigger={}, correlation_id=uuid.uuid4().hex,
            created_at=moment - timedelta(minutes=1), started_at=moment - timedelta(minutes=1),
            finished_at=moment if finished else None,
        )
        db.session.add(execution)
        db.session.flush()
        db.session.add_all([
            StepRun(workspace_id=workflow.workspace_id, execution_id=execution.id, step_id="greet",
                    action="core.set", status="succeeded" if finished else "waiting", output={"text": output},
                    started_at=moment - timedelta(minutes=1), finished_at=moment if finished else None),
            ExecutionEvent(workspace_id=workflow.workspace_id, execution_id=execution.id, from_status=None,
                           to_status="queued", at=moment - timedelta(minutes=1)),
            ExecutionEvent(workspace_id=workflow.workspace_id, execution_id=execution.id, from_status="queued",
                           to_status=status, at=moment),
            ApprovalTask(workspace_id=workflow.workspace_id, execution_id=execution.id, step_id="greet",
                         title="Approve?", status="approved" if finished else "pending",
                         created_at=moment - timedelta(minutes=1)),
        ])
        db.session.commit()
        return execution.id

    return make


@pytest.fixture
def make_fire() -> Callable[..., int]:
    def make(workflow: Workflow, days_ago: float, status: str = "fired") -> int:
        moment = utcnow() - timedelta(days=days_ago)
        fire = ScheduleFire(workspace_id=workflow.workspace_id, workflow_id=workflow.id, scheduled_for=moment,
                            covers_from=moment, status=status, fired_at=moment)
        db.session.add(fire)
        db.session.commit()
        return fire.id

    return make


@pytest.fixture
def make_audit_entry(workspace: Workspace) -> Callable[[float], int]:
    def make(days_ago: float) -> int:
        entry = AuditLog(workspace_id=workspace.id, actor="relay", action="workflow.update",
                         at=utcnow() - timedelta(days=days_ago))
        db.session.add(entry)
        db.session.commit()
        return entry.id

    return make


def remaining(model: type, column: str = "id") -> set[int]:
    """The ids (or another integer column) of every row of ``model`` still stored."""
    db.session.expire_all()
    return set(db.session.scalars(sa.select(getattr(model, column))))


def children_of(execution_ids: set[int]) -> dict[str, int]:
    """How many step runs, status changes and approval tasks the given runs still have, by table."""
    return {model.__tablename__: db.session.scalar(
        sa.select(sa.func.count()).select_from(model).where(model.execution_id.in_(execution_ids))) or 0
        for model in CHILDREN}
