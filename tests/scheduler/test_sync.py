"""A sync pass keeps schedule states in step with the workflows: publishing starts a schedule from the
moment of publishing, pausing and deleting stop it, resuming and changing the schedule start it again
from the change, and publishing other changes keeps its place."""

from __future__ import annotations

from datetime import timedelta

import pytest

from automation import workflows
from automation.firing import ScheduleSync, claim
from automation.models import ScheduleState, db, utcnow
from automation.schedules import Schedule
from tests.scheduler.conftest import definition, fires, place_watermark, state_of, sync, utc

pytestmark = pytest.mark.storage


def test_publishing_a_schedule_starts_it_from_the_moment_of_publishing(scheduled):
    workflow = scheduled({"cron": "0 9 * * MON-FRI", "timezone": "Europe/Berlin"})

    sync()

    state = state_of(workflow)
    assert state is not None
    assert state.schedule == Schedule(cron="0 9 * * MON-FRI", every=None, timezone="Europe/Berlin")
    assert state.version_id == workflow.current_version_id
    assert state.watermark == workflow.updated_at


def test_a_draft_has_no_schedule(workspace):
    draft = workflows.create_workflow(workspace.id, "Draft", definition({"every": "1m"}))

    sync()

    assert state_of(draft) is None


def test_a_workflow_with_another_trigger_has_no_schedule(workspace):
    hook = workflows.create_workflow(workspace.id, "Hook", {
        "trigger": {"type": "webhook"}, "steps": [{"id": "a", "uses": "core.set", "with": {"x": 1}}]})
    workflows.publish(hook)

    sync()

    assert state_of(hook) is None


def test_pausing_stops_the_schedule(scheduled):
    workflow = scheduled()
    sync()
    workflows.pause(workflow)

    sync()

    assert state_of(workflow) is None


def test_resuming_starts_the_schedule_again_from_the_resume_so_paused_fire_times_never_run(scheduled):
    workflow = scheduled()
    sync()
    workflows.pause(workflow)
    sync()
    workflows.resume(workflow)

    sync()

    assert state_of(workflow).watermark == workflow.updated_at


def test_deleting_the_workflow_removes_its_schedule(scheduled):
    workflow = scheduled()
    sync()
    workflow_id = workflow.id
    workflows.delete_workflow(workflow)

    result = ScheduleSync().run()

    assert workflow_id not in result.schedules
    assert db.session.get(ScheduleState, workflow_id) is None


def test_changing_the_schedule_restarts_it_from_the_change(scheduled):
    workflow = scheduled({"every": "1m"})
    place_watermark(workflow, utc(2030, 1, 1, 9, 0))
    workflows.update_workflow(workflow, definition=definition({"every": "15m"}))
    workflows.publish(workflow)

    sync()

    state = state_of(workflow)
    assert state.schedule.every == timedelta(minutes=15)
    assert state.watermark == workflow.updated_at


def test_publishing_a_change_to_the_steps_keeps_the_schedules_place(scheduled):
    workflow = scheduled({"every": "1m"})
    place_watermark(workflow, utc(2030, 1, 1, 9, 0))
    workflows.update_workflow(workflow, definition=definition({"every": "1m"}, note="v2"))
    workflows.publish(workflow)

    sync()

    state = state_of(workflow)
    assert state.version_id == workflow.current_version_id
    assert state.watermark == utc(2030, 1, 1, 9, 0)


def test_a_schedule_never_restarts_before_a_fire_time_already_recorded(scheduled):
    workflow = scheduled({"every": "1m"})
    later = utcnow() + timedelta(minutes=10)
    place_watermark(workflow, later - timedelta(minutes=1))
    claim(workflow.id, later, timedelta(minutes=5))  # a scheduler whose clock runs ahead
    workflows.update_workflow(workflow, definition=definition({"every": "2m"}))
    workflows.publish(workflow)

    ScheduleSync().run(now=later + timedelta(seconds=30))

    assert state_of(workflow).watermark == fires(workflow)[-1].scheduled_for


def test_the_sync_reports_a_fire_time_left_unhandled_as_overdue(scheduled):
    workflow = scheduled({"every": "1m"})
    place_watermark(workflow, utcnow() - timedelta(minutes=3))

    result = ScheduleSync().run(slack=timedelta(seconds=2))

    assert result.schedules == {workflow.id: Schedule(cron=None, every=timedelta(minutes=1))}
    assert result.overdue == {workflow.id}


def test_the_sync_settles_a_run_claimed_for_a_workflow_paused_since(scheduled):
    workflow = scheduled({"every": "1m"})
    now = utcnow()
    place_watermark(workflow, now - timedelta(minutes=1))
    claim(workflow.id, now, timedelta(minutes=5))  # ... and the scheduler died before starting the run
    workflows.pause(workflow)

    ScheduleSync().run(now=now + timedelta(seconds=5))

    [fire] = fires(workflow)
    assert fire.status == "skipped"
    assert "paused" in fire.reason
