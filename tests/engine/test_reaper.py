"""The reaper puts stranded executions back on the queue and leaves healthy ones alone."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from automation.leases import claim
from automation.models import Execution, StepRun, db, utcnow
from automation.reaper import reap
from tests.engine.conftest import events

pytestmark = pytest.mark.storage

ONE_STEP = {"trigger": {"type": "manual"}, "steps": [{"id": "a", "uses": "core.set", "with": {}}]}


def _lapse(execution_id: int) -> None:
    db.session.execute(sa.update(Execution).where(Execution.id == execution_id)
                       .values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()


def test_running_execution_whose_lease_lapsed_goes_back_to_queued(publish, start):
    execution_id = start(publish(ONE_STEP))
    assert claim(db.session, execution_id, lease=30, worker="dead") is not None
    db.session.add(StepRun(workspace_id=1, execution_id=execution_id, step_id="a", action="core.set",
                           status="running", attempt=1))
    db.session.commit()
    _lapse(execution_id)

    report = reap()

    assert report.reclaimed == 1
    execution = db.session.get(Execution, execution_id)
    db.session.refresh(execution)
    assert execution.status == "queued"
    assert execution.run_token is None
    assert events(execution_id)[-1] == ("running", "queued")
    step_run = db.session.scalar(sa.select(StepRun).where(StepRun.execution_id == execution_id))
    assert step_run.status == "interrupted"


def test_running_execution_with_a_live_lease_is_left_alone(publish, start):
    execution_id = start(publish(ONE_STEP))
    claim(db.session, execution_id, lease=30, worker="alive")

    assert reap().reclaimed == 0
    assert db.session.get(Execution, execution_id).status == "running"


def test_old_worker_cannot_write_after_its_run_was_reclaimed(publish, start):
    from automation.leases import LeaseLost, fence

    execution_id = start(publish(ONE_STEP))
    old_token = claim(db.session, execution_id, lease=30, worker="old")
    _lapse(execution_id)
    reap()
    assert claim(db.session, execution_id, lease=30, worker="new") is not None

    with pytest.raises(LeaseLost):
        fence(db.session, execution_id, old_token, lease=30)


def test_overdue_waiting_run_is_enqueued_even_if_a_dead_workers_job_still_looks_started(publish, start):
    from rq.job import Job, JobStatus

    from automation import dispatch
    from automation.redis_client import get_redis
    from automation.transitions import change_status

    execution_id = start(publish(ONE_STEP))
    claim(db.session, execution_id, lease=30, worker="killed")
    change_status(db.session, execution_id, "running", "waiting", run_token=None,
                  wake_at=utcnow() - timedelta(seconds=5))
    db.session.commit()
    zombie = Job.fetch(dispatch.job_id(execution_id), connection=get_redis())
    zombie.set_status(JobStatus.STARTED)  # its worker was SIGKILLed before RQ could finish the job

    assert reap().woken == 1
    assert Job.fetch(dispatch.job_id(execution_id), connection=get_redis()).get_status() == JobStatus.QUEUED


def test_queued_run_whose_job_is_still_in_the_queue_is_not_enqueued_twice(publish, start):
    execution_id = start(publish(ONE_STEP))
    db.session.execute(sa.update(Execution).where(Execution.id == execution_id)
                       .values(enqueued_at=utcnow() - timedelta(minutes=5)))
    db.session.commit()

    assert reap().requeued == 0
