"""Starting, retrying and cancelling executions: the write side of DESIGN.md's execution path, step 1.

Insert the row (status ``queued``) and commit, then enqueue. A repeated idempotency key returns the
execution that key already started. Enqueue failures are left to the reaper: the row is the outbox.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from automation import approvals, dispatch, logs, metrics
from automation.models import (
    Execution,
    ExecutionEvent,
    ExecutionStatus,
    StepRun,
    StepStatus,
    Workflow,
    WorkflowStatus,
    db,
    utcnow,
)
from automation.transitions import change_status

log = logging.getLogger(__name__)


class NotRunnable(Exception):
    """The workflow or execution is not in a state that allows what was asked (an HTTP 409)."""


def start_execution(
    workflow: Workflow,
    *,
    trigger_kind: str,
    payload: dict[str, Any],
    idempotency_key: str | None = None,
    correlation_id: str | None = None,
) -> tuple[Execution, bool]:
    """Create a queued execution of the workflow's published version and enqueue it.

    Returns:
        The execution and whether this call created it (False: the idempotency key was seen before).

    Raises:
        NotRunnable: the workflow has no published version or is paused.
    """
    if idempotency_key:
        existing = _by_key(workflow.id, idempotency_key)
        if existing is not None:
            return existing, False
    if workflow.current_version_id is None:
        raise NotRunnable("this workflow has not been published yet; publish it before running it")
    if workflow.status == WorkflowStatus.PAUSED:
        raise NotRunnable("this workflow is paused; resume it before running it")
    now = utcnow()
    execution = Execution(
        workspace_id=workflow.workspace_id,
        workflow_id=workflow.id,
        version_id=workflow.current_version_id,
        status=ExecutionStatus.QUEUED.value,
        trigger_kind=trigger_kind,
        trigger=payload,
        idempotency_key=idempotency_key,
        # The request's or run's own id when the caller names none, so its log lines and the worker's match.
        correlation_id=correlation_id or logs.correlation_id() or uuid.uuid4().hex,
        created_at=now,
        enqueued_at=now,
    )
    db.session.add(execution)
    try:
        db.session.flush()
    except IntegrityError:
        # Another request with the same key committed between our look-up and our insert.
        db.session.rollback()
        existing = _by_key(workflow.id, idempotency_key or "")
        if existing is None:
            raise
        return existing, False
    db.session.add(
        ExecutionEvent(
            workspace_id=execution.workspace_id, execution_id=execution.id, from_status=None,
            to_status=ExecutionStatus.QUEUED.value, reason=f"started by {trigger_kind}", at=now,
        )
    )
    db.session.commit()
    dispatch.enqueue(execution.id)
    metrics.execution_started(workflow.id, trigger_kind)
    with logs.for_execution(execution):
        log.info("execution %s queued (%s)", execution.id, trigger_kind)
    return execution, True


def manual_payload(workflow: Workflow, body: dict[str, Any]) -> dict[str, Any]:
    """A "Run now" trigger shaped like the workflow's own, so the steps' expressions find what they use:
    a webhook run gets empty headers and query, a schedule run is scheduled for now."""
    version = workflow.current_version
    kind = ((version.definition if version else {}).get("trigger") or {}).get("type")
    if kind == "webhook":
        return {"body": body, "headers": {}, "query": {}, "method": "POST"}
    if kind == "schedule":
        now = utcnow().isoformat().replace("+00:00", "Z")
        return {"body": body, "fired_at": now, "scheduled_for": now}
    return {"body": body}


def retry_execution(execution: Execution) -> Execution:
    """Run a failed or cancelled execution again from its first unfinished step (same version).

    Raises:
        NotRunnable: the execution is not failed or cancelled.
    """
    previous = ExecutionStatus(execution.status)
    if previous not in (ExecutionStatus.FAILED, ExecutionStatus.CANCELLED) or not change_status(
        db.session, execution, previous, ExecutionStatus.QUEUED,
        reason="retried", round=execution.round + 1, error=None, error_step=None, finished_at=None,
        enqueued_at=utcnow(), run_token=None, wake_at=None,
    ):
        db.session.rollback()
        raise NotRunnable(f"only a failed or cancelled execution can be retried; this one is {execution.status}")
    db.session.commit()
    db.session.refresh(execution)
    dispatch.enqueue(execution.id)
    return execution


def cancel_execution(execution: Execution) -> Execution:
    """Stop a queued, waiting or running execution. A running step finishes its call but nothing after it runs;
    a pending approval is cancelled with it.

    Raises:
        NotRunnable: the execution has already finished.
    """
    for status in (ExecutionStatus.QUEUED, ExecutionStatus.WAITING, ExecutionStatus.RUNNING):
        if execution.status == status and change_status(
            db.session, execution, status, ExecutionStatus.CANCELLED,
            reason="cancelled", finished_at=utcnow(), run_token=None, wake_at=None,
        ):
            db.session.execute(
                sa.update(StepRun)
                .where(StepRun.execution_id == execution.id,
                       StepRun.status.in_([StepStatus.RUNNING.value, StepStatus.WAITING.value]))
                .values(status=StepStatus.INTERRUPTED.value, error="cancelled", finished_at=utcnow())
            )
            approvals.cancel_pending(execution.id)
            db.session.commit()
            metrics.execution_finished(execution.workflow_id, ExecutionStatus.CANCELLED.value)
            db.session.refresh(execution)
            return execution
    db.session.rollback()
    raise NotRunnable(f"this execution has already finished ({execution.status})")


def _by_key(workflow_id: int, key: str) -> Execution | None:
    return db.session.scalar(
        sa.select(Execution).where(Execution.workflow_id == workflow_id, Execution.idempotency_key == key)
    )
