"""Fixtures for engine tests: a workspace, published workflows built straight from definitions, a
ledger file the test connector appends to, and helpers to start and run executions in-process."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from automation import ingest
from automation.engine import run_execution
from automation.models import (
    Execution,
    ExecutionEvent,
    StepRun,
    Workflow,
    WorkflowStatus,
    WorkflowVersion,
    Workspace,
    db,
    utcnow,
)


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
def ledger(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.txt"
    path.touch()
    return path


def ledger_counts(path: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in path.read_text().splitlines():
        counts[line] = counts.get(line, 0) + 1
    return counts


@pytest.fixture
def publish(workspace: Workspace) -> Callable[..., Workflow]:
    def make(definition: dict[str, Any], params: dict[str, Any] | None = None, name: str = "Test") -> Workflow:
        workflow = Workflow(workspace_id=workspace.id, name=name, status=WorkflowStatus.ACTIVE.value,
                            hook_token=secrets.token_urlsafe(24), latest_version_number=1, params=params or {})
        db.session.add(workflow)
        db.session.flush()
        version = WorkflowVersion(workspace_id=workspace.id, workflow_id=workflow.id, number=1,
                                  definition=definition, params=params or {}, published_at=utcnow())
        db.session.add(version)
        db.session.flush()
        workflow.current_version_id = version.id
        db.session.commit()
        return workflow

    return make


@pytest.fixture
def start() -> Callable[..., int]:
    def start(workflow: Workflow, body: dict[str, Any] | None = None, key: str | None = None) -> int:
        execution, _ = ingest.start_execution(
            workflow, trigger_kind="manual", payload={"body": body or {}}, idempotency_key=key
        )
        return execution.id

    return start


def run(execution_id: int) -> Execution:
    """Run the execution in this process (what the RQ job does) and return the fresh row."""
    run_execution(execution_id)
    db.session.expire_all()
    execution = db.session.get(Execution, execution_id)
    assert execution is not None
    return execution


def fast_forward(execution_id: int) -> None:
    """Make a waiting execution (and its waiting step) due now, instead of sleeping until it is."""
    past = utcnow() - timedelta(seconds=2)
    db.session.execute(sa.update(Execution).where(Execution.id == execution_id).values(wake_at=past))
    db.session.execute(
        sa.update(StepRun).where(StepRun.execution_id == execution_id, StepRun.resume_at.is_not(None))
        .values(resume_at=past)
    )
    db.session.commit()


def step_runs(execution_id: int) -> list[StepRun]:
    return list(db.session.scalars(
        sa.select(StepRun).where(StepRun.execution_id == execution_id).order_by(StepRun.id)
    ))


def events(execution_id: int) -> list[tuple[str | None, str]]:
    return [
        (e.from_status, e.to_status)
        for e in db.session.scalars(
            sa.select(ExecutionEvent).where(ExecutionEvent.execution_id == execution_id).order_by(ExecutionEvent.id)
        )
    ]
