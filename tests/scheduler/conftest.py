"""Fixtures for scheduler tests: schedule workflows created and published through the real lifecycle,
fixed clocks, the stored fire history, and an in-process scheduler whose APScheduler never runs a job by
itself (tests call its passes directly)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

from automation import workflows
from automation.firing import ScheduleSync
from automation.models import Execution, ScheduleFire, ScheduleState, Workflow, Workspace, db
from automation.scheduler import SchedulerProcess, build_process


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def definition(schedule: dict[str, Any], note: str = "{{ trigger.scheduled_for }}") -> dict[str, Any]:
    return {"trigger": {"type": "schedule", "schedule": schedule},
            "steps": [{"id": "note", "uses": "core.set", "with": {"at": note}}]}


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
def scheduled(workspace: Workspace) -> Callable[..., Workflow]:
    """Create and publish a workflow whose trigger is ``schedule`` (default: every minute)."""

    def make(schedule: dict[str, Any] | None = None, name: str = "Report") -> Workflow:
        workflow = workflows.create_workflow(workspace.id, name, definition(schedule or {"every": "1m"}))
        return workflows.publish(workflow)

    return make


def sync(now: datetime | None = None) -> None:
    ScheduleSync().run(now)


def state_of(workflow: Workflow) -> ScheduleState | None:
    return db.session.scalar(
        sa.select(ScheduleState).where(ScheduleState.workflow_id == workflow.id)
        .execution_options(populate_existing=True)
    )


def place_watermark(workflow: Workflow, watermark: datetime) -> None:
    """Give the workflow a schedule state whose last handled fire time is ``watermark`` (a fixed clock)."""
    sync()
    db.session.execute(
        sa.update(ScheduleState).where(ScheduleState.workflow_id == workflow.id).values(watermark=watermark)
    )
    db.session.commit()


def fires(workflow: Workflow) -> list[ScheduleFire]:
    return list(db.session.scalars(
        sa.select(ScheduleFire).where(ScheduleFire.workflow_id == workflow.id).order_by(ScheduleFire.scheduled_for)
        .execution_options(populate_existing=True)
    ))


def executions(workflow: Workflow) -> list[Execution]:
    return list(db.session.scalars(
        sa.select(Execution).where(Execution.workflow_id == workflow.id).order_by(Execution.id)
        .execution_options(populate_existing=True)
    ))


@pytest.fixture
def make_process(ctx: Flask) -> Iterator[Callable[..., SchedulerProcess]]:
    """Scheduler processes in this test process, on the test's Redis; their APScheduler is paused."""
    made: list[SchedulerProcess] = []

    def make(**config: Any) -> SchedulerProcess:
        ctx.config.update(config)
        clock = BackgroundScheduler(timezone=UTC)
        clock.start(paused=True)
        process = build_process(ctx, clock)
        made.append(process)
        return process

    yield make
    for process in made:
        process.clock.shutdown(wait=False)
        process.lock.release()
