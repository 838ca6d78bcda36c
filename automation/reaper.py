"""Finds executions that lost their way and puts them back on the queue.

- ``running`` whose lease lapsed (its worker died): back to ``queued``; the step in flight is marked
  interrupted and runs again, finished steps do not.
- ``queued`` for longer than the grace period whose job is not waiting in the queue (the enqueue after
  commit failed, Redis lost the job, or the worker died before claiming it): enqueued again.
- ``waiting`` past its wake-up time by more than the grace period (the RQ scheduler was down): enqueued.
Duplicates are harmless: the worker claims a row with a compare-and-set.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from automation import dispatch
from automation.leases import interrupt_running_steps
from automation.models import Execution, ExecutionStatus, db, utcnow
from automation.transitions import change_status

log = logging.getLogger(__name__)

BATCH = 500


@dataclass(frozen=True)
class ReapReport:
    reclaimed: int
    requeued: int
    woken: int


def reap() -> ReapReport:
    """One pass over stranded executions (bounded to BATCH of each kind)."""
    now = utcnow()
    grace = timedelta(seconds=float(current_app.config["RELAY_QUEUED_GRACE"]))

    reclaimed = 0
    lapsed = db.session.scalars(
        sa.select(Execution.id)
        .where(Execution.status == ExecutionStatus.RUNNING.value, Execution.lease_expires_at < now)
        .limit(BATCH)
    ).all()
    for execution_id in lapsed:
        if change_status(
            db.session, execution_id, ExecutionStatus.RUNNING, ExecutionStatus.QUEUED,
            reason="the worker stopped responding; resuming after the last finished step",
            conditions=(Execution.lease_expires_at < now,),
            run_token=None, lease_expires_at=None, enqueued_at=now,
        ):
            interrupt_running_steps(
                db.session, execution_id, "the worker stopped while this step was running; trying it again"
            )
            db.session.commit()
            dispatch.enqueue(execution_id)
            reclaimed += 1
        else:
            db.session.rollback()

    requeued = 0
    stale = db.session.scalars(
        sa.select(Execution.id)
        .where(Execution.status == ExecutionStatus.QUEUED.value,
               sa.func.coalesce(Execution.enqueued_at, Execution.created_at) < now - grace)
        .limit(BATCH)
    ).all()
    for execution_id in stale:
        if not dispatch.is_queued(execution_id) and dispatch.enqueue(execution_id):
            db.session.execute(sa.update(Execution).where(Execution.id == execution_id).values(enqueued_at=now))
            requeued += 1
    db.session.commit()

    woken = 0
    overdue = db.session.scalars(
        sa.select(Execution.id)
        .where(Execution.status == ExecutionStatus.WAITING.value, Execution.wake_at < now - grace)
        .limit(BATCH)
    ).all()
    for execution_id in overdue:
        if not dispatch.is_queued(execution_id) and dispatch.enqueue(execution_id):
            woken += 1

    report = ReapReport(reclaimed, requeued, woken)
    if reclaimed or requeued or woken:
        log.info("reaper: %s", report)
    return report
