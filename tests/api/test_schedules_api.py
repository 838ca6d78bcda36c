"""Schedules through the API: words and next fire times on the workflow, a live preview, and invalid crons
rejected at save with the reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
import sqlalchemy as sa

from automation.engine import run_execution
from automation.firing import ScheduleSync, fire_due
from automation.models import ScheduleState, db

pytestmark = pytest.mark.storage

SCHEDULED = {"trigger": {"type": "schedule", "schedule": {"cron": "0 9 * * MON-FRI", "timezone": "Europe/Berlin"}},
             "steps": [{"id": "a", "uses": "core.set", "with": {"at": "{{ trigger.scheduled_for }}"}}]}


def test_a_schedule_workflow_says_when_it_runs_in_words(make_workflow):
    workflow = make_workflow(SCHEDULED)
    assert workflow["schedule"]["description"] == "At 09:00, Monday through Friday, Europe/Berlin"
    assert (workflow["schedule"]["cron"], workflow["schedule"]["timezone"]) == ("0 9 * * MON-FRI", "Europe/Berlin")


def test_a_schedule_workflow_lists_its_next_five_fire_times_in_order(make_workflow):
    runs = [datetime.fromisoformat(t) for t in make_workflow(SCHEDULED)["schedule"]["next_runs"]]
    assert len(runs) == 5
    assert runs == sorted(runs)
    assert all(t.weekday() < 5 and t.minute == 0 and t.hour in (7, 8) for t in runs)


def test_an_interval_schedule_is_described_with_its_length(make_workflow):
    definition = {**SCHEDULED, "trigger": {"type": "schedule", "schedule": {"every": "15m"}}}
    schedule = make_workflow(definition)["schedule"]
    assert (schedule["description"], schedule["every_seconds"]) == ("Every 15 minutes", 900)
    runs = [datetime.fromisoformat(t) for t in schedule["next_runs"]]
    assert {(later - earlier).total_seconds() for earlier, later in pairwise(runs)} == {900}


def test_the_workflow_describes_its_published_schedule_not_an_unpublished_edit(client, owner, make_workflow):
    workflow = make_workflow(SCHEDULED)
    edited = {**SCHEDULED, "trigger": {"type": "schedule", "schedule": {"every": "1h"}}}
    response = client.patch(f"/api/v1/workflows/{workflow['id']}", json={"definition": edited}, headers=owner)
    assert response.get_json()["schedule"]["description"] == "At 09:00, Monday through Friday, Europe/Berlin"


def test_a_manual_workflow_has_no_schedule(make_workflow):
    assert "schedule" not in make_workflow()


def test_an_invalid_cron_is_rejected_at_save_with_the_reason(client, owner):
    definition = {**SCHEDULED, "trigger": {"type": "schedule", "schedule": {"cron": "0 9 * * MON-XYZ"}}}
    response = client.post("/api/v1/workflows", json={"name": "Bad", "definition": definition}, headers=owner)
    assert response.status_code == 422
    assert response.get_json()["error"]["details"] == [{
        "path": "definition.trigger.schedule.cron",
        "message": "'0 9 * * MON-XYZ' is not a valid cron expression: the day of week field is not valid "
                   "(allowed: 0-7 or SUN-SAT, *, lists, ranges, steps)",
    }]


def test_preview_describes_a_cron_with_its_next_runs(client, owner):
    response = client.get("/api/v1/schedules/describe",
                          query_string={"cron": "30 2 * * *", "timezone": "Europe/Berlin"}, headers=owner)
    assert response.status_code == 200
    body = response.get_json()
    assert body["description"] == "At 02:30, Europe/Berlin"
    assert len(body["next_runs"]) == 5


def test_preview_explains_every_problem_of_a_schedule(client, owner):
    response = client.get("/api/v1/schedules/describe",
                          query_string={"cron": "0 25 * * *", "timezone": "Mars/Olympus"}, headers=owner)
    assert response.status_code == 422
    assert [d["path"] for d in response.get_json()["error"]["details"]] == ["cron", "timezone"]


def test_preview_needs_a_cron_or_an_interval(client, owner):
    response = client.get("/api/v1/schedules/describe", headers=owner)
    assert response.status_code == 422
    assert response.get_json()["error"]["details"] == [
        {"path": "schedule", "message": "give exactly one of 'cron' or 'every'"},
    ]


def test_preview_refuses_unknown_parameters(client, owner):
    response = client.get("/api/v1/schedules/describe", query_string={"crom": "* * * * *"}, headers=owner)
    assert response.status_code == 400
    assert "crom" in response.get_json()["error"]["message"]


def test_preview_needs_a_token(client):
    assert client.get("/api/v1/schedules/describe", query_string={"every": "1h"}).status_code == 401


def _fire_history(workflow_id: int) -> None:
    """At 10:03:30 a 1-minute schedule last handled at 09:00: 09:01-09:58 skipped, 10:03 fired for 09:59-10:03."""
    ScheduleSync().run()
    db.session.execute(sa.update(ScheduleState).where(ScheduleState.workflow_id == workflow_id)
                       .values(watermark=datetime(2030, 1, 1, 9, 0, tzinfo=UTC)))
    db.session.commit()
    fire_due(workflow_id, now=datetime(2030, 1, 1, 9, 3, 30, tzinfo=UTC) + timedelta(hours=1))


def test_fire_history_lists_runs_and_skipped_ranges_newest_first(client, owner, make_workflow):
    workflow = make_workflow({**SCHEDULED, "trigger": {"type": "schedule", "schedule": {"every": "1m"}}})
    _fire_history(workflow["id"])

    response = client.get(f"/api/v1/workflows/{workflow['id']}/fires", headers=owner)

    assert response.status_code == 200
    body = response.get_json()
    assert body["total"] == 2
    fired, skipped = body["items"]
    assert (fired["status"], fired["scheduled_for"], fired["missed_count"]) == (
        "fired", "2030-01-01T10:03:00+00:00", 4)
    assert client.get(f"/api/v1/executions/{fired['execution_id']}", headers=owner).status_code == 200
    assert (skipped["status"], skipped["covers_from"], skipped["scheduled_for"], skipped["execution_id"]) == (
        "skipped", "2030-01-01T09:01:00+00:00", "2030-01-01T09:58:00+00:00", None)
    assert skipped["reason"]


def test_fire_history_filters_by_status(client, owner, make_workflow):
    workflow = make_workflow({**SCHEDULED, "trigger": {"type": "schedule", "schedule": {"every": "1m"}}})
    _fire_history(workflow["id"])

    items = client.get(f"/api/v1/workflows/{workflow['id']}/fires?status=skipped", headers=owner).get_json()["items"]
    assert [f["status"] for f in items] == ["skipped"]
    refused = client.get(f"/api/v1/workflows/{workflow['id']}/fires?status=late", headers=owner)
    assert refused.status_code == 400


def test_fire_history_of_another_workspaces_workflow_is_not_found(client, other_workspace, make_workflow):
    workflow = make_workflow(SCHEDULED)
    assert client.get(f"/api/v1/workflows/{workflow['id']}/fires", headers=other_workspace).status_code == 404


def test_run_now_on_a_schedule_workflow_is_scheduled_for_now_so_its_expressions_work(client, owner, make_workflow):
    workflow = make_workflow(SCHEDULED)

    started = client.post(f"/api/v1/workflows/{workflow['id']}/executions", json={"note": "test"}, headers=owner)
    assert run_execution(started.get_json()["id"]) == "succeeded"

    run = client.get(f"/api/v1/executions/{started.get_json()['id']}", headers=owner).get_json()
    assert run["trigger_kind"] == "manual"
    assert run["trigger"]["body"] == {"note": "test"}
    assert run["trigger"]["scheduled_for"] == run["trigger"]["fired_at"]
    assert run["steps"][0]["output"] == {"at": run["trigger"]["scheduled_for"]}
