"""Waiting, inside a webhook request, for one step of a run to finish (the ``wait`` response mode).

The worker writes in another process, so each poll ends the session's transaction first: PostgreSQL
and SQLite (WAL) both answer a read transaction from the snapshot it started with, and the identity map
would hand back the rows already loaded. Polls back off from 50 ms to 500 ms.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from automation.models import Execution, ExecutionStatus, StepRun, StepStatus, db

FIRST_POLL, LAST_POLL, BACKOFF = 0.05, 0.5, 1.5


class Outcome(enum.Enum):
    OUTPUT = "output"        # the step succeeded: its output is the answer
    NOT_RUN = "not_run"      # the step was skipped, or the run succeeded without it
    FAILED = "failed"        # the run failed or was cancelled
    PENDING = "pending"      # still going when the time was up


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    status: str
    output: Any = None
    error: str | None = None
    error_step: str | None = None


def wait_for_step(execution_id: int, step_id: str, timeout: float) -> Result:
    """Poll until the top-level step ``step_id`` of the execution's current round settles, or ``timeout``."""
    deadline = time.monotonic() + timeout
    delay = FIRST_POLL
    while True:
        result = _look(execution_id, step_id)
        remaining = deadline - time.monotonic()
        if result.outcome is not Outcome.PENDING or remaining <= 0:
            return result
        time.sleep(min(delay, remaining))
        delay = min(delay * BACKOFF, LAST_POLL)


def _look(execution_id: int, step_id: str) -> Result:
    db.session.rollback()  # a fresh transaction sees what the worker committed since the last poll
    run = db.session.execute(
        sa.select(Execution.status, Execution.round, Execution.error, Execution.error_step)
        .where(Execution.id == execution_id)
    ).first()
    if run is None:  # deleted with its workflow meanwhile
        return Result(Outcome.FAILED, "deleted", error="the run was deleted")
    status, round_, error, error_step = run
    step = db.session.execute(
        sa.select(StepRun.status, StepRun.output)
        .where(StepRun.execution_id == execution_id, StepRun.step_id == step_id, StepRun.round == round_,
               StepRun.parent_step_id.is_(None),
               StepRun.status.in_([StepStatus.SUCCEEDED.value, StepStatus.SKIPPED.value]))
        .order_by(StepRun.id.desc()).limit(1)
    ).first()
    if step is not None and step.status == StepStatus.SUCCEEDED.value:
        return Result(Outcome.OUTPUT, status, output=step.output)
    if step is not None or status == ExecutionStatus.SUCCEEDED.value:
        return Result(Outcome.NOT_RUN, status)
    if status in (ExecutionStatus.FAILED.value, ExecutionStatus.CANCELLED.value):
        return Result(Outcome.FAILED, status, error=error, error_step=error_step)
    return Result(Outcome.PENDING, status)
