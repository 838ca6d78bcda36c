"""The scheduler process in-process, its APScheduler paused: only the process holding the leader lock
has jobs; losing the lock removes them at once; each sync pass adds, reschedules and removes fire jobs to
match the published schedules; and the fire trigger is only a clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from automation import workflows
from automation.leader import LeaderLock, heartbeat_key, read_heartbeat
from automation.models import utcnow
from automation.scheduler import ScheduleTrigger, fire_job_id
from automation.schedules import Schedule
from tests.scheduler.conftest import definition, executions, place_watermark

pytestmark = pytest.mark.storage


def job_ids(process) -> set[str]:
    return {job.id for job in process.clock.get_jobs()}


def test_the_process_that_takes_the_lock_runs_the_sync_the_reaper_the_approval_pass_and_retention(
        make_process):
    process = make_process()

    process.tick()

    assert process.leading
    assert job_ids(process) == {"sync", "reaper", "approvals", "retention"}


def test_the_leader_beats_a_heartbeat_naming_itself(make_process):
    process = make_process()

    process.tick()

    heartbeat = read_heartbeat(process.lock.client, heartbeat_key(process.app.config["RELAY_QUEUE"]))
    assert heartbeat is not None
    assert heartbeat.leader == process.lock.token


def test_a_second_process_stands_by_without_jobs(make_process):
    leader, standby = make_process(), make_process()
    leader.tick()

    standby.tick()

    assert not standby.leading
    assert job_ids(standby) == set()


def test_losing_the_lock_removes_every_job_at_once(make_process, scheduled):
    scheduled()
    process = make_process()
    process.tick()
    process.sync_pass()
    assert len(job_ids(process)) == 5
    process.lock.release()
    LeaderLock(process.lock.client, process.lock.key, ttl=60).acquire()  # another process took over

    process.tick()

    assert not process.leading
    assert job_ids(process) == set()


def test_a_standby_takes_over_once_the_leaders_lock_expires(make_process):
    leader, standby = make_process(RELAY_LEADER_TTL=0.3), make_process(RELAY_LEADER_TTL=0.3)
    leader.tick()
    standby.tick()
    time.sleep(0.4)  # the leader stopped renewing

    standby.tick()

    assert standby.leading
    leader.tick()
    assert not leader.leading


def test_a_leader_whose_lock_may_have_expired_fires_nothing(make_process, scheduled):
    workflow = scheduled({"every": "1s"})
    place_watermark(workflow, utcnow() - timedelta(seconds=3))
    process = make_process(RELAY_LEADER_TTL=0.2)
    process.tick()
    time.sleep(0.3)  # no renewal since: a standby may lead by now

    process.fire(workflow.id)

    assert executions(workflow) == []


def test_a_published_schedule_gets_a_fire_job_that_runs_at_once_to_catch_up(make_process, scheduled):
    workflow = scheduled({"every": "15m"})
    process = make_process()
    process.tick()

    process.sync_pass()

    job = process.clock.get_job(fire_job_id(workflow.id))
    assert job.trigger.schedule == Schedule(cron=None, every=timedelta(minutes=15))
    assert job.next_run_time <= datetime.now(UTC)


def test_pausing_removes_the_fire_job_at_the_next_sync_pass(make_process, scheduled):
    workflow = scheduled()
    process = make_process()
    process.tick()
    process.sync_pass()
    workflows.pause(workflow)

    process.sync_pass()

    assert job_ids(process) == {"sync", "reaper", "approvals", "retention"}


def test_deleting_removes_the_fire_job_at_the_next_sync_pass(make_process, scheduled):
    workflow = scheduled()
    process = make_process()
    process.tick()
    process.sync_pass()
    workflows.delete_workflow(workflow)

    process.sync_pass()

    assert job_ids(process) == {"sync", "reaper", "approvals", "retention"}


def test_changing_the_schedule_reschedules_the_fire_job_at_the_next_sync_pass(make_process, scheduled):
    workflow = scheduled({"every": "1m"})
    process = make_process()
    process.tick()
    process.sync_pass()
    workflows.update_workflow(workflow, definition=definition({"cron": "30 6 * * *", "timezone": "Asia/Tokyo"}))
    workflows.publish(workflow)

    process.sync_pass()

    job = process.clock.get_job(fire_job_id(workflow.id))
    assert job.trigger.schedule == Schedule(cron="30 6 * * *", every=None, timezone="Asia/Tokyo")
    in_tokyo = job.next_run_time.astimezone(ZoneInfo("Asia/Tokyo"))
    assert (in_tokyo.hour, in_tokyo.minute, in_tokyo.second) == (6, 30, 0)
    assert utcnow() < job.next_run_time <= utcnow() + timedelta(days=1)


def test_an_overdue_fire_is_run_at_the_next_sync_pass(make_process, scheduled):
    workflow = scheduled({"every": "1h"})
    process = make_process()
    process.tick()
    process.sync_pass()
    process.clock.modify_job(fire_job_id(workflow.id), next_run_time=datetime.now(UTC) + timedelta(hours=1))
    place_watermark(workflow, utcnow() - timedelta(hours=2))  # e.g. the last fire failed on a database outage

    process.sync_pass()

    assert process.clock.get_job(fire_job_id(workflow.id)).next_run_time <= datetime.now(UTC)


def test_the_trigger_wakes_at_the_next_fire_time_after_now_however_late_the_last_run():
    trigger = ScheduleTrigger(Schedule(cron=None, every=timedelta(seconds=1)))
    now = datetime(2030, 1, 8, 12, 0, 0, 250000, tzinfo=UTC)

    assert trigger.get_next_fire_time(datetime(2030, 1, 1, tzinfo=UTC), now) == datetime(2030, 1, 8, 12, 0, 1,
                                                                                         tzinfo=UTC)
    assert trigger.get_next_fire_time(None, now) == datetime(2030, 1, 8, 12, 0, 1, tzinfo=UTC)
