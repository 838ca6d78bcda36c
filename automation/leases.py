"""Who is running an execution: claiming it, keeping the claim alive, and fencing every write.

A worker claims a row with a compare-and-set (``queued``/due ``waiting`` → ``running``) and a fresh
``run_token``. A heartbeat thread pushes ``lease_expires_at`` forward while the worker lives; when it
dies, the lease lapses and the reaper hands the run to another worker. Every checkpoint the worker
writes is conditional on its token, so a worker that lost its lease (paused, cancelled, reclaimed) can
never overwrite the new owner's progress.
"""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automation.models import Execution, ExecutionStatus, StepRun, StepStatus, utcnow
from automation.transitions import change_status

# A RQ scheduled job can fire a little before the stored wake time (clock rounding); accept that.
WAKE_TOLERANCE = timedelta(seconds=1)


class LeaseLost(Exception):
    """This worker no longer owns the execution; stop without writing anything else."""


def claim(session: Session, execution_id: int, lease: float, worker: str) -> str | None:
    """Take the execution for this worker. Returns the run token, or None when it is not ours to run."""
    status = session.scalar(sa.select(Execution.status).where(Execution.id == execution_id))
    if status not in (ExecutionStatus.QUEUED, ExecutionStatus.WAITING):
        session.rollback()
        return None
    now = utcnow()
    token = str(uuid.uuid4())
    conditions: tuple[sa.ColumnElement[bool], ...] = ()
    if status == ExecutionStatus.WAITING:
        conditions = (sa.or_(Execution.wake_at.is_(None), Execution.wake_at <= now + WAKE_TOLERANCE),)
    won = change_status(
        session, execution_id, status, ExecutionStatus.RUNNING,
        reason=f"picked up by {worker}" if status == ExecutionStatus.QUEUED else f"resumed by {worker}",
        conditions=conditions,
        run_token=token,
        lease_expires_at=now + timedelta(seconds=lease),
        started_at=sa.func.coalesce(Execution.started_at, now),
        wake_at=None,
    )
    if not won:
        session.rollback()
        return None
    session.commit()
    return token


def fence(session: Session, execution_id: int, token: str, lease: float) -> None:
    """Renew the lease inside the caller's transaction; raise LeaseLost when the run is no longer ours."""
    result = session.execute(
        sa.update(Execution)
        .where(Execution.id == execution_id, Execution.run_token == token,
               Execution.status == ExecutionStatus.RUNNING.value)
        .values(lease_expires_at=utcnow() + timedelta(seconds=lease))
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.rollback()
        raise LeaseLost(f"execution {execution_id} is no longer held by this worker")


class Heartbeat:
    """Renews the lease every third of its length from a background thread while a step runs."""

    def __init__(self, engine: sa.Engine, execution_id: int, token: str, lease: float) -> None:
        self._engine = engine
        self._execution_id = execution_id
        self._token = token
        self._lease = lease
        self._stop = threading.Event()
        self.lost = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{execution_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        while not self._stop.wait(self._lease / 3):
            try:
                with Session(self._engine) as session, session.begin():
                    fence(session, self._execution_id, self._token, self._lease)
            except LeaseLost:
                self.lost.set()
                return
            except sa.exc.SQLAlchemyError:
                continue  # a passing database error: the next beat tries again before the lease lapses


def interrupt_running_steps(session: Session, execution_id: int, reason: str) -> int:
    """Mark attempts left ``running`` by a dead worker as interrupted (they will be tried again)."""
    result = session.execute(
        sa.update(StepRun)
        .where(StepRun.execution_id == execution_id, StepRun.status == StepStatus.RUNNING.value)
        .values(status=StepStatus.INTERRUPTED.value, error=reason, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount
