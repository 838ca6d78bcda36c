"""The numbers behind ``GET /api/health/workflows`` for the caller's workspace: the queue (depth and the
age of the oldest queued run), the last hour's runs and failure rate, and the active workflows with those
whose published definition no longer validates. Counts are SQL aggregates through ``scoping.scoped``;
only the validation of each active workflow runs in Python."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from automation.models import Execution, ExecutionEvent, ExecutionStatus, Workflow, WorkflowStatus, WorkflowVersion, db
from automation.scoping import current_workspace_id, scoped
from automation.workflow_checks import version_problems

HOUR = timedelta(hours=1)
QUEUED = ExecutionStatus.QUEUED.value
ACTIVE = WorkflowStatus.ACTIVE.value


def workflow_health(now: datetime) -> dict[str, Any]:
    depth, oldest = queue_state()
    invalid = invalid_workflows()
    return {
        "queue_depth": depth,
        "oldest_queued_age_seconds": None if oldest is None else round(max(0.0, (now - oldest).total_seconds()), 1),
        "last_hour": last_hour(now),
        "active_workflows": active_workflows(),
        "invalid_workflows": len(invalid),
        "invalid": invalid,
        "checked_at": now.isoformat(),
    }


def queue_state() -> tuple[int, datetime | None]:
    """How many runs are queued, and since when the longest-waiting one has been (its latest move to queued,
    so a run retried or taken back from a dead worker counts from then, not from its creation)."""
    depth = db.session.scalar(scoped(Execution).with_only_columns(sa.func.count()).where(Execution.status == QUEUED))
    entered = (
        scoped(ExecutionEvent).with_only_columns(sa.func.max(ExecutionEvent.at).label("at"))
        .join(Execution, Execution.id == ExecutionEvent.execution_id)
        .where(Execution.status == QUEUED, ExecutionEvent.to_status == QUEUED)
        .group_by(ExecutionEvent.execution_id)
        .subquery()
    )
    oldest = db.session.scalar(sa.select(sa.func.min(entered.c.at)))
    return int(depth or 0), oldest


def last_hour(now: datetime) -> dict[str, Any]:
    """Runs created in the last hour and how they ended; the failure rate leaves unfinished and cancelled
    runs out, like the dashboard's success rate."""
    runs, succeeded, failed = db.session.execute(
        scoped(Execution).with_only_columns(
            sa.func.count(),
            sa.func.count(sa.case((Execution.status == ExecutionStatus.SUCCEEDED.value, 1))),
            sa.func.count(sa.case((Execution.status == ExecutionStatus.FAILED.value, 1))),
        ).where(Execution.created_at >= now - HOUR)
    ).one()
    finished = succeeded + failed
    return {"runs": runs, "succeeded": succeeded, "failed": failed,
            "failure_rate": round(failed / finished, 4) if finished else None}


def active_workflows() -> int:
    return int(db.session.scalar(
        scoped(Workflow).with_only_columns(sa.func.count()).where(Workflow.status == ACTIVE)) or 0)


def invalid_workflows() -> list[dict[str, Any]]:
    """Active workflows whose published version no longer validates (a deleted or retyped connection)."""
    workspace_id = current_workspace_id()
    rows = db.session.execute(
        scoped(Workflow).with_only_columns(Workflow.id, Workflow.name, WorkflowVersion.definition,
                                           WorkflowVersion.params)
        .join(WorkflowVersion, WorkflowVersion.id == Workflow.current_version_id)
        .where(Workflow.status == ACTIVE)
        .order_by(Workflow.id)
    ).all()
    invalid = []
    for workflow_id, name, definition, params in rows:
        problems = version_problems(workspace_id, definition, params or {})
        if problems:
            invalid.append({"id": workflow_id, "name": name,
                            "problems": [{"path": p.path, "message": p.message} for p in problems]})
    return invalid

