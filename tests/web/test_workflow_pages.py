"""The workflows list and a workflow's page: trigger in words, steps, lifecycle buttons, run now, versions,
the runs chart, and who may press what."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask

from automation import connections, workflows
from automation.accounts import create_user, default_workspace
from automation.models import Execution, Workflow, Workspace, db, utcnow
from tests.web.conftest import field_error, rows, submit

pytestmark = pytest.mark.storage

SET = {"id": "note", "uses": "core.set", "with": {"channel": "#sales", "to": "{{ trigger.body.email }}"}}
MANUAL = {"trigger": {"type": "manual"}, "steps": [SET]}
WEBHOOK = {"trigger": {"type": "webhook"}, "steps": [SET]}
SCHEDULE = {"trigger": {"type": "schedule", "schedule": {"cron": "0 9 * * MON-FRI", "timezone": "Europe/Berlin"}},
            "steps": [SET]}


def make_workflow(app: Flask, definition: dict[str, Any], *, name: str = "Leads", publish: bool = True,
                  workspace: str | None = None) -> int:
    def create() -> int:
        ws = db.session.scalar(sa.select(Workspace).where(Workspace.name == workspace)) if workspace \
            else default_workspace()
        workflow = workflows.create_workflow(ws.id, name, definition)
        if publish:
            workflows.publish(workflow)
        return workflow.id

    return rows(app, create)


def workflow_row(app: Flask, workflow_id: int) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        w = db.session.get(Workflow, workflow_id)
        version = w.current_version.number if w.current_version else None
        return {"status": w.status, "published": version, "hook_token": w.hook_token}

    return rows(app, read)


def executions(app: Flask) -> list[tuple[int, dict[str, Any]]]:
    return rows(app, lambda: [(e.workflow_id, e.trigger) for e in db.session.scalars(sa.select(Execution))])


def add_run(app: Flask, workflow_id: int, status: str, created_at: datetime) -> None:
    def insert() -> None:
        workflow = db.session.get(Workflow, workflow_id)
        db.session.add(Execution(workspace_id=workflow.workspace_id, workflow_id=workflow_id,
                                 version_id=workflow.current_version_id, status=status, trigger_kind="manual",
                                 trigger={}, correlation_id="c", created_at=created_at))
        db.session.commit()

    rows(app, insert)


def text(response: Any) -> str:
    return response.get_data(as_text=True)


def test_the_list_shows_each_workflow_with_status_trigger_words_and_last_run(owner_client, app):
    hook = make_workflow(app, WEBHOOK, name="Incoming leads")
    make_workflow(app, SCHEDULE, name="Morning digest", publish=False)
    add_run(app, hook, "failed", utcnow())

    page = text(owner_client.get("/workflows"))

    assert re.search(r"Incoming leads</a></td>\s*<td><span class=\"badge active\">active", page)
    assert re.search(r"Morning digest</a></td>\s*<td><span class=\"badge draft\">draft", page)
    assert "When its webhook URL is called" in page
    assert "At 09:00, Monday through Friday, Europe/Berlin" in page
    assert '<span class="badge failed">failed</span>' in page
    assert "never" in page


def test_a_webhook_workflow_shows_its_url_with_a_copy_button_and_a_sample_curl(owner_client, app):
    workflow_id = make_workflow(app, WEBHOOK)
    url = f"http://localhost/hooks/{workflow_row(app, workflow_id)['hook_token']}"

    page = text(owner_client.get(f"/workflows/{workflow_id}"))

    assert f'<code id="webhook-url" class="url">{url}</code>' in page
    assert f'data-copy="{url}"' in page
    assert f"curl -X POST &#39;{url}&#39; -H &#39;Content-Type: application/json&#39;" in page


def test_a_schedule_workflow_shows_the_schedule_in_words_and_the_next_five_runs(owner_client, app):
    workflow_id = make_workflow(app, SCHEDULE)

    page = text(owner_client.get(f"/workflows/{workflow_id}"))

    assert "At 09:00, Monday through Friday, Europe/Berlin" in page
    next_runs = re.findall(r'<time datetime="([^"]+)">', page)
    assert len(next_runs) == 5
    for moment in next_runs:
        local = datetime.fromisoformat(moment).astimezone(ZoneInfo("Europe/Berlin"))
        assert (local.hour, local.minute, local.weekday() < 5) == (9, 0, True)
    assert "webhook-url" not in page


def test_a_manual_workflow_says_it_runs_when_started(owner_client, app):
    page = text(owner_client.get(f"/workflows/{make_workflow(app, MANUAL)}"))
    assert "Runs when started" in page


def test_the_steps_read_as_a_flow_with_key_fields_conditions_and_indented_loop_steps(owner_client, app):
    definition = {"trigger": {"type": "manual"}, "steps": [
        {"id": "big", "uses": "core.filter", "with": {"condition": "{{ trigger.body.amount > 10 }}"},
         "if": "{{ trigger.body.amount }}"},
        {"id": "each", "uses": "core.for_each", "with": {"items": "{{ trigger.body.people }}"}, "steps": [
            {"id": "greet", "uses": "core.set", "with": {"to": "{{ item.email }}"}}]},
    ]}
    page = text(owner_client.get(f"/workflows/{make_workflow(app, definition)}"))

    flow = page[page.index('<ol class="flow">'):page.index("Runs in the last 14 days")]
    assert flow.index("big") < flow.index("each") < flow.index("greet")
    assert '<span class="tag">if</span> <code>{{ trigger.body.amount }}</code>' in flow
    nested = flow[flow.index('class="flow-nested"'):]
    assert '<span class="connector">Relay</span> <strong>Compute values</strong>' in nested
    assert "<dt>to</dt><dd><code>{{ item.email }}</code></dd>" in nested


def test_publish_pause_and_resume_buttons_change_the_status(owner_client, app):
    workflow_id = make_workflow(app, MANUAL, publish=False)
    path = f"/workflows/{workflow_id}"

    for action, status in (("publish", "active"), ("pause", "paused"), ("resume", "active")):
        assert f'action="{path}/{action}"' in text(owner_client.get(path))
        response = submit(owner_client, f"{path}/{action}", {}, form_path=path)
        assert (response.status_code, response.headers["Location"]) == (302, path)
        assert workflow_row(app, workflow_id)["status"] == status


def test_pausing_a_paused_workflow_says_why_it_cannot(owner_client, app):
    workflow_id = make_workflow(app, MANUAL)
    path = f"/workflows/{workflow_id}"
    submit(owner_client, f"{path}/pause", {}, form_path=path)

    again = submit(owner_client, f"{path}/pause", {}, form_path=path)

    assert "only a workflow that is active can be paused" in text(owner_client.get(again.headers["Location"]))


def test_a_viewer_sees_no_buttons_and_is_refused_every_change(app, sign_in):
    sign_in("owner")
    viewer = sign_in("viewer")
    workflow_id = make_workflow(app, WEBHOOK)
    make_workflow(app, MANUAL, name="Draft", publish=False)
    path = f"/workflows/{workflow_id}"

    page = text(viewer.get(path))

    assert "webhook-url" in page
    assert not re.search(r"<form method=\"post\" action=\"/workflows", page)
    assert "Run now</button>" not in page
    for action in ("publish", "pause", "resume", "run", "hook-token", "versions/1/publish"):
        assert submit(viewer, f"{path}/{action}", {}, form_path=path).status_code == 403, action
    assert workflow_row(app, workflow_id)["status"] == "active"
    assert executions(app) == []


def test_a_change_without_the_csrf_token_is_refused(owner_client, app):
    workflow_id = make_workflow(app, MANUAL)
    assert owner_client.post(f"/workflows/{workflow_id}/pause").status_code == 400
    assert workflow_row(app, workflow_id)["status"] == "active"


def test_run_now_starts_a_run_with_the_payload_as_trigger_body(owner_client, app):
    workflow_id = make_workflow(app, MANUAL)
    path = f"/workflows/{workflow_id}"

    response = submit(owner_client, f"{path}/run", {"payload": '{"email": "ada@example.com"}'}, form_path=path)

    [(run_workflow, trigger)] = executions(app)
    assert (run_workflow, trigger["body"]) == (workflow_id, {"email": "ada@example.com"})
    assert response.status_code == 302
    assert re.fullmatch(r"/runs/\d+", response.headers["Location"])


def test_run_now_with_malformed_json_shows_the_error_next_to_the_field_and_starts_nothing(owner_client, app):
    workflow_id = make_workflow(app, MANUAL)
    path = f"/workflows/{workflow_id}"

    response = submit(owner_client, f"{path}/run", {"payload": '{"email": '}, form_path=path)

    assert response.status_code == 422
    assert field_error(text(response), "payload").startswith("this is not valid JSON")
    assert '{&#34;email&#34;: </textarea>' in text(response)
    assert executions(app) == []


def test_run_now_of_a_draft_says_to_publish_first(owner_client, app):
    workflow_id = make_workflow(app, MANUAL, publish=False)
    path = f"/workflows/{workflow_id}"
    response = submit(owner_client, f"{path}/run", {"payload": ""}, form_path=path)
    assert "publish it before running it" in field_error(text(response), "payload")
    assert executions(app) == []


def test_restore_publishes_an_older_version_again(owner_client, app):
    workflow_id = make_workflow(app, MANUAL)
    rows(app, lambda: workflows.publish(workflows.update_workflow(
        db.session.get(Workflow, workflow_id), definition=WEBHOOK)))
    path = f"/workflows/{workflow_id}"
    assert workflow_row(app, workflow_id)["published"] == 2
    assert "Restore version 1" in text(owner_client.get(path))

    submit(owner_client, f"{path}/versions/1/publish", {}, form_path=path)

    assert workflow_row(app, workflow_id)["published"] == 1
    assert "Runs when started" in text(owner_client.get(path))


def test_regenerating_the_webhook_url_replaces_the_old_one(owner_client, app):
    workflow_id = make_workflow(app, WEBHOOK)
    path = f"/workflows/{workflow_id}"
    old = workflow_row(app, workflow_id)["hook_token"]

    submit(owner_client, f"{path}/hook-token", {}, form_path=path)

    new = workflow_row(app, workflow_id)["hook_token"]
    assert new != old
    page = text(owner_client.get(path))
    assert new in page and old not in page


def test_problems_of_the_published_version_are_shown(owner_client, app):
    def with_connection() -> int:
        workspace_id = default_workspace().id
        connection = connections.create_connection(workspace_id, "Orders hook", "webhook",
                                                   {"signing_secret": "whsec_" + "A" * 32})
        definition = {"trigger": {"type": "manual"}, "steps": [
            {"id": "notify", "uses": "webhook.send", "connection": "Orders hook",
             "with": {"url": "https://example.com/in", "payload": {}}}]}
        workflow = workflows.publish(workflows.create_workflow(workspace_id, "Orders", definition))
        connections.delete_connection(connection)
        return workflow.id

    page = text(owner_client.get(f"/workflows/{rows(app, with_connection)}"))

    assert "This workflow will fail when it runs" in page
    assert "connection &#39;Orders hook&#39; does not exist in this workspace" in page


def test_the_chart_counts_runs_per_day_by_outcome(owner_client, app):
    workflow_id = make_workflow(app, MANUAL)
    today = datetime.combine(utcnow().date(), datetime.min.time(), tzinfo=UTC) + timedelta(hours=1)
    for status, days_ago in (("succeeded", 0), ("succeeded", 0), ("failed", 0), ("succeeded", 3),
                             ("cancelled", 3), ("running", 0), ("succeeded", 14)):
        add_run(app, workflow_id, status, today - timedelta(days=days_ago))

    page = text(owner_client.get(f"/workflows/{workflow_id}"))

    def day(days_ago: int) -> dict[str, str]:
        iso = (today - timedelta(days=days_ago)).date().isoformat()
        row = re.search(rf'<tr data-day="{iso}">(.*?)</tr>', page, re.S).group(1)
        return dict(re.findall(r'data-outcome="([^"]+)">(\d+)<', row))

    assert day(0) == {"succeeded": "2", "failed": "1", "cancelled": "0", "in progress": "1"}
    assert day(3) == {"succeeded": "1", "failed": "0", "cancelled": "1", "in progress": "0"}
    assert len(re.findall(r"<tr data-day=", page)) == 14
    assert "6 runs in the last 14 days: 3 succeeded, 1 failed, 1 cancelled, 1 in progress." in page


def test_another_workspaces_workflow_is_not_found(owner_client, app):
    def other() -> None:
        db.session.add(Workspace(name="Other"))
        db.session.commit()
        create_user("other@example.com", "correct horse battery", "owner", workspace="Other")

    rows(app, other)
    theirs = make_workflow(app, MANUAL, workspace="Other")
    path = f"/workflows/{theirs}"

    assert owner_client.get(path).status_code == 404
    assert submit(owner_client, f"{path}/pause", {}, form_path="/workflows").status_code == 404
    assert workflow_row(app, theirs)["status"] == "active"
    assert owner_client.get("/workflows/not-a-number").status_code == 404
