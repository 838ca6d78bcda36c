"""What a fire does, with fixed clocks: a due fire time becomes one execution and one history row however
often and by however many schedulers it is handled; missed fire times within the grace window run once,
coalesced; older ones are recorded as skipped; a run claimed by a scheduler that died is started by the
next pass."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from automation import workflows
from automation.firing import claim, fire_due, idempotency_key, start_claimed
from automation.models import Execution, FireStatus, ScheduleFire, db
from tests.scheduler.conftest import executions, fires, place_watermark, state_of, utc

pytestmark = pytest.mark.storage

GRACE = timedelta(minutes=5)  # RELAY_SCHEDULE_GRACE's default


def test_a_due_fire_time_starts_one_execution_with_the_fire_time_in_its_trigger(scheduled):
    workflow = scheduled({"every": "1m"})
    place_watermark(workflow, utc(2030, 1, 1, 9, 0))

    fire_due(workflow.id, now=utc(2030, 1, 1, 9, 1, 0) + timedelta(milliseconds=500))

    [execution] = executions(workflow)
    assert execution.trigger_kind == "schedule"
    assert execution.trigger == {"fired_at": "2030-01-01T09:01:00.500000Z", "scheduled_for": "2030-01-01T09:01:00Z"}
    assert execution.idempotency_key == f"schedule:{workflow.id}:2030-01-01T09:01:00Z"
    [fire] = fires(workflow)
    assert (fire.status, fire.scheduled_for, fire.covers_from, fire.missed_count, fire.execution_id) == (
        "fired", utc(2030, 1, 1, 9, 1), utc(2030, 1, 1, 9, 1), 0, execution.id)
    assert state_of(workflow).watermark == utc(2030, 1, 1, 9, 1)


def test_nothing_fires_before_the_next_fire_time(scheduled):
    workflow = scheduled({"every": "1m"})
    place_watermark(workflow, utc(2030, 1, 1, 9, 0))

    fire_due(workflow.id, now=utc(2030, 1, 1, 9, 0, 59))

    assert executions(workflow) == []
    assert fires(workflow) == []
    assert state_of(workflow).watermark == utc(2030, 1, 1, 9, 0)


def test_handling_the_same_fire_time_again_creates_no_second_execution(scheduled):
    workflow = scheduled({"every": "1m"})
    place_watermark(workflow, utc(2030, 1, 1, 9, 0))

    fire_due(workflow.id, now=utc(2030, 1, 1, 9, 1, 0))
    fire_due(workflow.id, now=utc(2030, 1, 1, 9, 1, 0))
    fire_due(workflow.id, now=utc(2030, 1, 1, 9, 1, 30))

    assert len(executions(workflow)) == 1
    assert [f.scheduled_for for f in fires(workflow)] == [utc(2030, 1, 1, 9, 1)]


def test_fire_times_missed_within_the_grace_window_run_once_coalesced_into_the_newest(scheduled):
    workflow = scheduled({"every": "1m"})
    place_watermark(workflow, utc(2030, 1, 1, 9, 0))

    fire_due(workflow.id, now=utc(2030, 1, 1, 9, 4, 10))

    [execution] = executions(workflow)
    assert execution.trigger["scheduled_for"] == "2030-01-01T09:04:00Z"
    [fire] = fires(workflow)
    assert (fire.status, fire.covers_from, fire.scheduled_for, fire.missed_count) == (
        "fired", utc(2030, 1, 1, 9, 1), utc(2030, 1, 1, 9, 4), 3)


def test_fire_times_missed_beyond_the_grace_window_are_recorded_as_one_skipped_range(scheduled):
    workflow = scheduled({"every": "1m"})
    place_watermark(workflow, utc(2030, 1, 1, 9, 0))

    fire_due(workflow.id, now=utc(2030, 1, 1, 9, 20, 30))  # grace reaches back to 09:15:30

    skipped, fired = fires(workflow)
    assert (skipped.status, skipped.covers_from, skipped.scheduled_for, skipped.missed_count) == (
        "skipped", utc(2030, 1, 1, 9, 1), utc(2030, 1, 1, 9, 15), 15)
    assert skipped.execution_id is None
    assert "more than 5m later" in skipped.reason
    assert (fired.status, fired.covers_from, fired.scheduled_for, fired.missed_count) == (
        "fired", utc(2030, 1, 1, 9, 16), utc(2030, 1, 1, 9, 20), 4)
    assert [e.trigger["scheduled_for"] for e in executions(workflow)] == ["2030-01-01T09:20:00Z"]


def test_an_outage_with_no_recent_fire_time_runs_nothing_and_records_the_skip(scheduled):
    workflow = scheduled({"every": "1h"})
    place_watermark(workflow, utc(2030, 1, 1, 0, 0))

    fire_due(workflow.id, now=utc(2030, 1, 1, 5, 30))

    assert executions(workflow) == []
    [skipped] = fires(workflow)
    assert (skipped.status, skipped.covers_from, skipped.scheduled_for, skipped.missed_count) == (
        "skipped", utc(2030, 1, 1, 1), utc(2030, 1, 1, 5), 5)
    assert state_of(workflow).watermark == utc(2030, 1, 1, 5)


def test_a_week_long_outage_of_a_one_second_schedule_is_two_rows_written_at_once(scheduled):
    workflow = scheduled({"every": "1s"})
    place_watermark(workflow, utc(2030, 1, 1))
    started = time.monotonic()

    fire_due(workflow.id, now=utc(2030, 1, 8))

    assert time.monotonic() - started < 1
    skipped, fired = fires(workflow)
    assert (skipped.covers_from, skipped.scheduled_for, skipped.missed_count) == (
        utc(2030, 1, 1, 0, 0, 1), utc(2030, 1, 7, 23, 55), 7 * 86400 - 300)
    assert (fired.covers_from, fired.scheduled_for, fired.missed_count) == (
        utc(2030, 1, 7, 23, 55, 1), utc(2030, 1, 8), 299)
    assert len(executions(workflow)) == 1


def test_a_cron_schedule_fires_at_its_local_time(scheduled):
    workflow = scheduled({"cron": "0 9 * * MON-FRI", "timezone": "Europe/Berlin"})
    place_watermark(workflow, utc(2030, 1, 7, 7, 0))  # Monday 08:00 in Berlin (CET, UTC+1)

    fire_due(workflow.id, now=utc(2030, 1, 7, 8, 0, 1))

    [execution] = executions(workflow)
    assert execution.trigger["scheduled_for"] == "2030-01-07T08:00:00Z"


def test_a_workflow_paused_since_the_last_sync_records_a_skipped_fire_with_the_reason(scheduled):
    workflow = scheduled({"every": "1m"})
    place_watermark(workflow, utc(2030, 1, 1, 9, 0))
    workflows.pause(workflow)

    fire_due(workflow.id, now=utc(2030, 1, 1, 9, 1, 0))

    assert executions(workflow) == []
    [fire] = fires(workflow)
    assert fire.status == "skipped"
    assert fire.reason == "not run: this workflow is paused; resume it before running it"


def test_a_workflow_published_again_since_the_last_sync_waits_for_the_sync(scheduled):
    workflow = scheduled({"every": "1m"})
    place_watermark(workflow, utc(2030, 1, 1, 9, 0))
    workflows.update_workflow(workflow, name="Renamed", definition={
        **workflow.current_version.definition, "description": "second version"})
    workflows.publish(workflow)

    fire_due(workflow.id, now=utc(2030, 1, 1, 9, 1, 0))

    assert fires(workflow) == []
    assert state_of(workflow).watermark == utc(2030, 1, 1, 9, 0)


def test_a_claimed_fire_whose_run_was_never_started_is_started_by_the_next_pass(scheduled):
    workflow = scheduled({"every": "1m"})
    place_watermark(workflow, utc(2030, 1, 1, 9, 0))
    claim(workflow.id, utc(2030, 1, 1, 9, 1, 0), GRACE)  # ... and the scheduler died here
    assert [f.status for f in fires(workflow)] == ["pending"]
    assert executions(workflow) == []

    fire_due(workflow.id, now=utc(2030, 1, 1, 9, 1, 20))

    [execution] = executions(workflow)
    assert execution.idempotency_key == idempotency_key(workflow.id, utc(2030, 1, 1, 9, 1))
    [fire] = fires(workflow)
    assert (fire.status, fire.execution_id) == ("fired", execution.id)


def test_a_claimed_fire_not_started_within_the_grace_window_is_recorded_as_skipped(scheduled):
    workflow = scheduled({"every": "1h"})
    place_watermark(workflow, utc(2030, 1, 1, 9, 0))
    claim(workflow.id, utc(2030, 1, 1, 10, 0, 0), GRACE)

    start_claimed(workflow.id, utc(2030, 1, 1, 10, 7), GRACE)

    assert executions(workflow) == []
    [fire] = fires(workflow)
    assert fire.status == "skipped"
    assert "stopped before starting this run" in fire.reason


def test_a_run_started_before_a_crash_is_recorded_once_and_not_started_again(scheduled):
    workflow = scheduled({"every": "1m"})
    place_watermark(workflow, utc(2030, 1, 1, 9, 0))
    claim(workflow.id, utc(2030, 1, 1, 9, 1, 0), GRACE)
    start_claimed(workflow.id, utc(2030, 1, 1, 9, 1, 0), GRACE)
    db.session.execute(sa.update(ScheduleFire).values(status=FireStatus.PENDING.value))  # died before recording
    db.session.commit()

    start_claimed(workflow.id, utc(2030, 1, 1, 9, 1, 5), GRACE)

    [execution] = executions(workflow)
    [fire] = fires(workflow)
    assert (fire.status, fire.execution_id) == ("fired", execution.id)


def test_two_schedulers_handling_the_same_fire_time_at_once_create_one_execution(ctx, scheduled):
    workflow = scheduled({"every": "1m"})
    place_watermark(workflow, utc(2030, 1, 1, 9, 0))
    workflow_id = workflow.id
    both_ready = threading.Barrier(2)
    errors: list[BaseException] = []

    def scheduler() -> None:
        with ctx.app_context():
            both_ready.wait()
            try:
                fire_due(workflow_id, now=utc(2030, 1, 1, 9, 1, 0))
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert len(executions(workflow)) == 1
    assert [(f.status, f.scheduled_for) for f in fires(workflow)] == [("fired", utc(2030, 1, 1, 9, 1))]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Execution)) == 1
