"""The home dashboard: what ran today and this week, how much of it failed, and what needs attention —
plus whether the workers and the scheduler are alive. Counts are SQL aggregates over the workspace."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis
import sqlalchemy as sa
from flask import current_app, render_template
from rq import Worker

from automation import dispatch
from automation.leader import heartbeat_key, read_heartbeat
from automation.models import ApprovalStatus, ApprovalTask, Execution, ExecutionStatus, Workflow, db, utcnow
from automation.redis_client import get_redis
from automation.scoping import scoped
from automation.web.pages import pages

WEEK = timedelta(days=7)
FAILING_SHOWN = 5


@dataclass(frozen=True)
class RunCounts:
    today: int
    week: int
    succeeded: int
    failed: int

    @property
    def success_rate(self) -> int | None:
        """Percent of the week's finished runs that succeeded (cancelled ones left out); None without any."""
        finished = self.succeeded + self.failed
        return round(100 * self.succeeded / finished) if finished else None


@dataclass(frozen=True)
class FailingWorkflow:
    id: int
    name: str
    failures: int
    last_failed_at: datetime


@dataclass(frozen=True)
class WorkerState:
    name: str
    state: str
    last_heartbeat: datetime | None


@dataclass(frozen=True)
class Health:
    """``redis_error`` set means nothing else could be read; ``scheduler`` is fresh / stale / absent."""

    redis_error: str | None
    workers: list[WorkerState]
    scheduler: str
    scheduler_at: datetime | None


def run_counts(now: datetime) -> RunCounts:
    """Runs started today (UTC) and in the last 7 days, and how the week's runs ended."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    row = db.session.execute(
        scoped(Execution).with_only_columns(
            sa.func.count(sa.case((Execution.created_at >= today, 1))),
            sa.func.count(),
            sa.func.count(sa.case((Execution.status == ExecutionStatus.SUCCEEDED.value, 1))),
            sa.func.count(sa.case((Execution.status == ExecutionStatus.FAILED.value, 1))),
        ).where(Execution.created_at >= now - WEEK)
    ).one()
    return RunCounts(*row)


def failing_workflows(now: datetime, limit: int = FAILING_SHOWN) -> list[FailingWorkflow]:
    """The workflows with the most failed runs in the last 7 days."""
    failures = sa.func.count(Execution.id)
    rows = db.session.execute(
        scoped(Execution)
        .with_only_columns(Workflow.id, Workflow.name, failures, sa.func.max(Execution.created_at))
        .join_from(Execution, Workflow, Workflow.id == Execution.workflow_id)
        .where(Execution.status == ExecutionStatus.FAILED.value, Execution.created_at >= now - WEEK)
        .group_by(Workflow.id, Workflow.name)
        .order_by(failures.desc(), Workflow.name)
        .limit(limit)
    ).all()
    return [FailingWorkflow(*row) for row in rows]


def pending_approvals() -> int:
    return db.session.execute(
        scoped(ApprovalTask).with_only_columns(sa.func.count())
        .where(ApprovalTask.status == ApprovalStatus.PENDING.value)
    ).scalar_one()


def health(now: datetime) -> Health:
    """RQ workers registered for the app's queue, and the scheduler leader's heartbeat."""
    try:
        workers = [WorkerState(w.name, _state(w), _aware(w.last_heartbeat)) for w in Worker.all(queue=dispatch.queue())]
        beat = read_heartbeat(get_redis(), heartbeat_key(current_app.config["RELAY_QUEUE"]))
    except redis.RedisError as exc:
        return Health(f"Redis is unreachable ({type(exc).__name__}): runs cannot start until it is back.", [],
                      "unknown", None)
    if beat is None:
        return Health(None, sorted(workers, key=lambda w: w.name), "absent", None)
    # The leader beats every third of RELAY_LEADER_TTL; a beat older than one TTL means it stopped leading.
    fresh = now - beat.at <= timedelta(seconds=float(current_app.config["RELAY_LEADER_TTL"]))
    return Health(None, sorted(workers, key=lambda w: w.name), "fresh" if fresh else "stale", beat.at)


def _state(worker: Worker) -> str:
    # RQ reports "?" for a worker that registered but has not said yet whether it is idle or busy.
    state = str(worker.get_state())
    return state if state.isalpha() else "starting"


def _aware(moment: datetime | None) -> datetime | None:
    # RQ stores heartbeats as naive UTC.
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


@pages.get("/")
def home() -> str:
    now = utcnow()
    has_workflows = db.session.execute(scoped(Workflow).with_only_columns(Workflow.id).limit(1)).first() is not None
    return render_template(
        "pages/home.html", now=now, has_workflows=has_workflows, counts=run_counts(now),
        failing=failing_workflows(now), approvals=pending_approvals(), health=health(now))
