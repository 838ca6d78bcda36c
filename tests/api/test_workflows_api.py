"""The workflow and execution endpoints of /api/v1 do what their contract says, and store what they say."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from automation.models import Execution, Workflow, WorkflowVersion, db
from tests.api.conftest import MANUAL, WEBHOOK

pytestmark = pytest.mark.storage


def test_created_workflow_is_a_draft_at_version_one(client, owner):
    response = client.post("/api/v1/workflows", json={"name": "Leads", "definition": MANUAL}, headers=owner)

    assert response.status_code == 201
    body = response.get_json()
    assert (body["name"], body["status"], body["version"], body["published_version"]) == ("Leads", "draft", 1, None)
    assert body["definition"] == MANUAL
    assert "webhook_url" not in body


def test_webhook_workflow_has_a_webhook_url(make_workflow):
    workflow = make_workflow(WEBHOOK, publish=False)
    assert workflow["webhook_url"].startswith("http://localhost/hooks/")
    assert len(workflow["webhook_url"].rsplit("/", 1)[1]) >= 24


def test_webhook_url_uses_the_configured_public_base_url(client, owner, app, make_workflow):
    app.config["RELAY_BASE_URL"] = "https://relay.example.com/"
    workflow = make_workflow(WEBHOOK, publish=False)
    hook_token = db.session.get(Workflow, workflow["id"]).hook_token
    assert workflow["webhook_url"] == f"https://relay.example.com/hooks/{hook_token}"


def test_publish_makes_the_latest_version_current_and_active(make_workflow):
    workflow = make_workflow()
    assert (workflow["status"], workflow["published_version"]) == ("active", 1)


def test_publishing_an_older_version_rolls_back_and_new_runs_use_it(client, owner, make_workflow):
    workflow = make_workflow()
    edited = {**MANUAL, "steps": [{"id": "b", "uses": "core.set", "with": {"z": 3}}]}
    client.patch(f"/api/v1/workflows/{workflow['id']}", json={"definition": edited}, headers=owner)
    client.post(f"/api/v1/workflows/{workflow['id']}/publish", headers=owner)

    rolled_back = client.post(f"/api/v1/workflows/{workflow['id']}/publish", json={"version": 1}, headers=owner)
    started = client.post(f"/api/v1/workflows/{workflow['id']}/executions", headers=owner)

    assert (rolled_back.get_json()["version"], rolled_back.get_json()["published_version"]) == (2, 1)
    assert started.get_json()["version"] == 1
    stored = db.session.get(Execution, started.get_json()["id"])
    assert stored.version_id == db.session.get(Workflow, workflow["id"]).current_version_id


def test_editing_the_definition_creates_a_new_version_and_keeps_the_published_one(client, owner, make_workflow):
    workflow = make_workflow()
    edited = {**MANUAL, "steps": [{"id": "b", "uses": "core.set", "with": {"z": 3}}]}

    response = client.patch(f"/api/v1/workflows/{workflow['id']}", json={"definition": edited}, headers=owner)

    body = response.get_json()
    assert response.status_code == 200
    assert (body["version"], body["published_version"], body["definition"]) == (2, 1, edited)
    assert db.session.query(WorkflowVersion).filter_by(workflow_id=workflow["id"]).count() == 2


def test_renaming_creates_no_version(client, owner, make_workflow):
    workflow = make_workflow()
    response = client.patch(f"/api/v1/workflows/{workflow['id']}", json={"name": "Hot leads"}, headers=owner)
    assert (response.get_json()["name"], response.get_json()["version"]) == ("Hot leads", 1)


def test_pause_and_resume_change_the_status(client, owner, make_workflow):
    workflow = make_workflow()
    paused = client.post(f"/api/v1/workflows/{workflow['id']}/pause", headers=owner)
    resumed = client.post(f"/api/v1/workflows/{workflow['id']}/resume", headers=owner)
    assert (paused.get_json()["status"], resumed.get_json()["status"]) == ("paused", "active")


def test_delete_removes_the_workflow_and_its_executions(client, owner, make_workflow):
    workflow = make_workflow()
    client.post(f"/api/v1/workflows/{workflow['id']}/executions", json={}, headers=owner)

    assert client.delete(f"/api/v1/workflows/{workflow['id']}", headers=owner).status_code == 204
    assert client.get(f"/api/v1/workflows/{workflow['id']}", headers=owner).status_code == 404
    assert db.session.query(Execution).count() == 0


def test_list_shows_only_this_workspaces_workflows(client, owner, other_workspace, make_workflow):
    make_workflow(name="Mine")
    make_workflow(name="Theirs", headers=other_workspace)

    names = [w["name"] for w in client.get("/api/v1/workflows", headers=owner).get_json()["items"]]
    assert names == ["Mine"]


def test_listing_a_page_of_workflows_costs_the_same_few_queries_however_many_rows(client, owner, make_workflow):
    def statements_for_list() -> tuple[int, list[dict]]:
        seen: list[str] = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731 - (conn, cursor, statement, ...)
        sa.event.listen(db.engine, "before_cursor_execute", listener)
        try:
            items = client.get("/api/v1/workflows", headers=owner).get_json()["items"]
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", listener)
        return len(seen), items

    make_workflow(name="First")
    few, _ = statements_for_list()
    for number in range(12):
        make_workflow(name=f"More {number}", publish=number % 2 == 0)
    many, items = statements_for_list()
    assert len(items) == 13
    assert many == few
    assert {w["name"]: w["published_version"] for w in items}["More 0"] == 1
    assert {w["name"]: w["published_version"] for w in items}["More 1"] is None


def test_starting_an_execution_answers_202_with_its_id(client, owner, make_workflow):
    workflow = make_workflow()
    response = client.post(f"/api/v1/workflows/{workflow['id']}/executions", json={"x": 5}, headers=owner)

    assert response.status_code == 202
    body = response.get_json()
    execution = db.session.get(Execution, body["id"])
    assert (execution.status, execution.trigger, execution.trigger_kind) == ("queued", {"body": {"x": 5}}, "manual")
    assert (body["status"], body["workflow_id"], body["version"]) == ("queued", workflow["id"], 1)
    assert body["url"] == response.headers["Location"] == f"http://localhost/api/v1/executions/{body['id']}"
    assert client.get(body["url"], headers=owner).get_json()["id"] == body["id"]


def test_an_empty_body_starts_a_run_with_an_empty_trigger_body(client, owner, make_workflow):
    workflow = make_workflow()
    response = client.post(f"/api/v1/workflows/{workflow['id']}/executions", headers=owner)
    assert response.status_code == 202
    assert db.session.get(Execution, response.get_json()["id"]).trigger == {"body": {}}


def test_repeated_idempotency_key_returns_the_first_execution(client, owner, make_workflow):
    workflow = make_workflow()
    url = f"/api/v1/workflows/{workflow['id']}/executions"
    first = client.post(url, json={"x": 1}, headers={**owner, "Idempotency-Key": "order-42"})
    second = client.post(url, json={"x": 1}, headers={**owner, "Idempotency-Key": "order-42"})

    assert (first.status_code, second.status_code) == (202, 200)
    assert first.get_json()["id"] == second.get_json()["id"]
    assert db.session.query(Execution).count() == 1


def test_request_id_becomes_the_correlation_id(client, owner, make_workflow):
    workflow = make_workflow()
    response = client.post(f"/api/v1/workflows/{workflow['id']}/executions", json={},
                           headers={**owner, "X-Request-ID": "req-abc"})
    assert db.session.get(Execution, response.get_json()["id"]).correlation_id == "req-abc"


def test_execution_detail_has_steps_and_events(client, owner, make_workflow):
    from automation.engine import run_execution

    workflow = make_workflow()
    execution_id = client.post(f"/api/v1/workflows/{workflow['id']}/executions", json={"x": 7},
                               headers=owner).get_json()["id"]
    run_execution(execution_id)

    body = client.get(f"/api/v1/executions/{execution_id}", headers=owner).get_json()
    assert body["status"] == "succeeded"
    assert [(s["step_id"], s["status"], s["attempt"], s["output"]) for s in body["steps"]] == [
        ("a", "succeeded", 1, {"x": 7})
    ]
    assert [(e["from"], e["to"]) for e in body["events"]] == [(None, "queued"), ("queued", "running"),
                                                             ("running", "succeeded")]


def test_executions_filter_by_workflow_and_status(client, owner, make_workflow):
    first, second = make_workflow(name="One"), make_workflow(name="Two")
    for workflow in (first, second, second):
        client.post(f"/api/v1/workflows/{workflow['id']}/executions", json={}, headers=owner)

    by_workflow = client.get(f"/api/v1/executions?workflow_id={second['id']}", headers=owner).get_json()
    by_status = client.get("/api/v1/executions?status=succeeded", headers=owner).get_json()

    assert (by_workflow["total"], len(by_workflow["items"])) == (2, 2)
    assert by_status["total"] == 0


def test_executions_are_paginated_newest_first(client, owner, make_workflow):
    workflow = make_workflow()
    ids = [client.post(f"/api/v1/workflows/{workflow['id']}/executions", json={}, headers=owner).get_json()["id"]
           for _ in range(3)]

    page1 = client.get("/api/v1/executions?per_page=2", headers=owner).get_json()
    page2 = client.get("/api/v1/executions?per_page=2&page=2", headers=owner).get_json()

    assert [e["id"] for e in page1["items"]] == [ids[2], ids[1]]
    assert [e["id"] for e in page2["items"]] == [ids[0]]
    assert (page1["next"], page2["next"], page1["total"]) == (2, None, 3)


def test_page_size_is_capped_at_the_configured_maximum(client, owner, app, make_workflow):
    app.config["RELAY_MAX_PAGE_SIZE"] = 2
    workflow = make_workflow()
    for _ in range(3):
        client.post(f"/api/v1/workflows/{workflow['id']}/executions", json={}, headers=owner)

    page = client.get("/api/v1/executions?per_page=1000", headers=owner).get_json()

    assert (page["per_page"], len(page["items"]), page["total"], page["next"]) == (2, 2, 3, 2)


def test_cancel_then_retry_requeues_the_execution(client, owner, make_workflow):
    workflow = make_workflow()
    execution_id = client.post(f"/api/v1/workflows/{workflow['id']}/executions", json={},
                               headers=owner).get_json()["id"]

    cancelled = client.post(f"/api/v1/executions/{execution_id}/cancel", headers=owner)
    retried = client.post(f"/api/v1/executions/{execution_id}/retry", headers=owner)

    assert (cancelled.status_code, cancelled.get_json()["status"]) == (200, "cancelled")
    assert (retried.status_code, retried.get_json()["status"]) == (202, "queued")


def test_run_now_on_a_webhook_workflow_has_the_shape_of_a_webhook_request(client, owner, make_workflow):
    workflow = make_workflow(WEBHOOK)
    started = client.post(f"/api/v1/workflows/{workflow['id']}/executions", json={"x": 1}, headers=owner)
    execution = db.session.get(Execution, started.get_json()["id"])
    assert execution.trigger == {"body": {"x": 1}, "headers": {}, "query": {}, "method": "POST"}
