"""The only module that talks to RQ: the queue, deterministic job ids, enqueue now / at a time.

The database row is the truth and Redis is transport: a failed enqueue is logged and left for the
scheduler's reaper, which finds the row still ``queued`` (or ``waiting`` past its time) and calls here
again. A duplicate job is harmless because the worker claims the row with a compare-and-set.
"""

from __future__ import annotations

import logging
from datetime import datetime

import redis
from flask import current_app
from rq import Queue
from rq.job import Job, JobStatus

from automation.redis_client import get_redis

log = logging.getLogger(__name__)

JOB_FUNCTION = "automation.worker.run_execution_job"


def queue() -> Queue:
    return Queue(
        current_app.config["RELAY_QUEUE"],
        connection=get_redis(),
        default_timeout=int(current_app.config["RELAY_JOB_TIMEOUT"]),
    )


def job_id(execution_id: int, at: datetime | None = None) -> str:
    """``execution-42`` for a run now, ``execution-42-at-1732500000`` for a wake-up at a given time."""
    return f"execution-{execution_id}" if at is None else f"execution-{execution_id}-at-{int(at.timestamp())}"


def enqueue(execution_id: int) -> bool:
    """Put the execution on the queue now. Returns False (and logs) when Redis is unreachable."""
    try:
        queue().enqueue_call(
            JOB_FUNCTION, args=(execution_id,), job_id=job_id(execution_id), result_ttl=300, failure_ttl=86400
        )
    except redis.RedisError as exc:
        log.warning("enqueue of execution %s failed (%s); the reaper will retry", execution_id, exc)
        return False
    return True


def enqueue_at(execution_id: int, at: datetime) -> bool:
    """Wake the execution at ``at`` through RQ's scheduler (workers run with ``with_scheduler``)."""
    try:
        queue().enqueue_at(
            at, JOB_FUNCTION, execution_id, job_id=job_id(execution_id, at), result_ttl=300, failure_ttl=86400
        )
    except redis.RedisError as exc:
        log.warning("scheduling execution %s failed (%s); the reaper will wake it", execution_id, exc)
        return False
    return True


def is_queued(execution_id: int) -> bool:
    """True when the execution's job is waiting in the queue right now.

    A job shown as *started* is not trusted: when its worker is SIGKILLed it stays "started" until RQ's
    maintenance sweeps it, minutes later. Enqueueing again is safe, as the worker claims the row with a
    compare-and-set.
    """
    try:
        job = Job.fetch(job_id(execution_id), connection=get_redis())
    except Exception:  # noqa: BLE001 - a missing or unreadable job both mean "not queued"
        return False
    return job.get_status(refresh=False) == JobStatus.QUEUED
