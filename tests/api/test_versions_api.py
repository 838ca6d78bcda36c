"""Versions, roll-back, export/import and the older API's endpoints, through /api."""

from __future__ import annotations

import json
import logging

import pytest
import yaml

from automation import connections
from automation.engine import run_execution
from automation.models import Execution, Workflow, WorkflowVersion, db
from automation.workflow_checks import log_workflow_health
from tests.api.conftest import MANUAL

pytestmark = pytest.mark.storage

SLACK_STEP = {"trigger": {"type": "manual"}, "steps": [
    {"id": "say", "uses": "slack.post_message", "connection": "Team Slack", "with": {"channel": "#a", "text": "hi"}},
]}


def version_definition(x: int) -> dict:
    return {"trigger": {"type": "manual"}, "steps": [{"id": "a", "uses": "core.set", "with": {"x": x}}]}


def edit(client, headers, workflow_id: int, definition: dict) -> None:
    response = client.patch(f"/api/v1/workflows/{workflow_id}", json={"definition": definition}, headers=headers)
    assert response.status_code == 200, response.get_json()


def start(client, headers, workflow_id: int) -> int:
    response = client.post(f"/api/v1/workflows/{workflow_id}/executions", json={}, headers=headers)
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


def test_versions_are_listed_newest_first_with_the_published_one_marked(client, owner, make_workflow):
    workflow = make_workflow(version_definition(1))
    edit(client, owner, workflow["id"], version_definition(2))

    items = client.get(f"/api/v1/workflows/{workflow['id']}/versions", headers=owner).get_json()["items"]

    assert [(v["number"], v["current"], v["latest"]) for v in items] == [(2, False, True), (1, True, False)]
    assert items[0]["author"] == "owner@example.com"
    assert items[0]["published_at"] is None and items[1]["published_at"] is not None


def test_one_version_can_be_read_with_its_definition(client, owner, make_workflow):
    workflow = make_workflow(version_definition(1))
    body = client.get(f"/api/v1/workflows/{workflow['id']}/versions/1", headers=owner).get_json()
    assert body["definition"] == version_definition(1)
    assert client.get(f"/api/v1/workflows/{workflow['id']}/versions/9", headers=owner).status_code == 404


def test_rollback_makes_new_runs_use_the_old_version_while_a_run_in_flight_finishes_on_its_own(
        client, owner, make_workflow):
    workflow = make_workflow(version_definition(1))
    edit(client, owner, workflow["id"], version_definition(2))
    assert client.post(f"/api/v1/workflows/{workflow['id']}/publish", headers=owner).status_code == 200
    started_on_v2 = start(client, owner, workflow["id"])

    rolled_back = client.post(f"/api/v1/workflows/{workflow['id']}/versions/1/publish", headers=owner)
    assert rolled_back.status_code == 200
    assert rolled_back.get_json()["published_version"] == 1
    started_on_v1 = start(client, owner, workflow["id"])

    assert run_execution(started_on_v2) == "succeeded"
    assert run_execution(started_on_v1) == "succeeded"
    outputs = {
        execution_id: client.get(f"/api/v1/executions/{execution_id}", headers=owner).get_json()["steps"][0]["output"]
        for execution_id in (started_on_v2, started_on_v1)
    }
    assert outputs == {started_on_v2: {"x": 2}, started_on_v1: {"x": 1}}


def test_publishing_an_unknown_version_is_not_found(client, owner, make_workflow):
    workflow = make_workflow()
    assert client.post(f"/api/v1/workflows/{workflow['id']}/versions/7/publish", headers=owner).status_code == 404


def test_publish_refuses_a_step_naming_a_connection_that_does_not_exist(client, owner, make_workflow):
    workflow = make_workflow(SLACK_STEP, publish=False)
    response = client.post(f"/api/v1/workflows/{workflow['id']}/publish", headers=owner)
    assert response.status_code == 422
    assert response.get_json()["error"]["details"] == [{
        "path": "definition.steps.say.connection",
        "message": "connection 'Team Slack' does not exist in this workspace",
    }]
    assert db.session.get(Workflow, workflow["id"]).current_version_id is None


def test_publish_refuses_a_connection_of_the_wrong_type_named_through_params(client, owner, make_workflow):
    connections.create_connection(db.session.get(Workflow, make_workflow(publish=False)["id"]).workspace_id,
                                  "Team Slack", "teams", {"webhook_url": "https://example.webhook.office.com/x"})
    definition = {**SLACK_STEP, "steps": [{**SLACK_STEP["steps"][0], "connection": "{{ params.slack }}"}]}
    created = client.post("/api/v1/workflows", json={"name": "P", "definition": definition,
                                                     "params": {"slack": "Team Slack"}}, headers=owner).get_json()
    response = client.post(f"/api/v1/workflows/{created['id']}/publish", headers=owner)
    assert response.status_code == 422
    assert response.get_json()["error"]["details"][0]["message"] == (
        "slack.post_message needs a slack connection, but 'Team Slack' is a teams connection")


def test_publish_accepts_a_step_whose_connection_exists(client, owner, make_workflow):
    workflow = make_workflow(SLACK_STEP, publish=False)
    connections.create_connection(db.session.get(Workflow, workflow["id"]).workspace_id, "Team Slack", "slack",
                                  {"bot_token": "xoxb-" + "1" * 24})
    assert client.post(f"/api/v1/workflows/{workflow['id']}/publish", headers=owner).status_code == 200


def test_export_is_yaml_by_default_and_imports_back_as_a_draft(client, owner, make_workflow):
    workflow = make_workflow(version_definition(3), name="Lead router")
    exported = client.get(f"/api/v1/workflows/{workflow['id']}/export", headers=owner)
    assert exported.mimetype == "application/yaml"
    assert yaml.safe_load(exported.data)["definition"] == version_definition(3)

    imported = client.post("/api/v1/workflows/import", data=exported.data,
                           headers={**owner, "Content-Type": "application/yaml"})

    assert imported.status_code == 201
    body = imported.get_json()
    assert (body["name"], body["status"], body["definition"]) == ("Lead router", "draft", version_definition(3))
    assert body["id"] != workflow["id"]


def test_export_as_json_imports_back_too(client, owner, make_workflow):
    workflow = make_workflow(version_definition(4))
    exported = client.get(f"/api/v1/workflows/{workflow['id']}/export?format=json", headers=owner)
    imported = client.post("/api/v1/workflows/import", json=json.loads(exported.data), headers=owner)
    assert imported.status_code == 201
    assert imported.get_json()["definition"] == version_definition(4)


def test_export_never_contains_a_connections_secret(client, owner, make_workflow):
    workflow = make_workflow(SLACK_STEP, publish=False)
    token = "xoxb-" + "7" * 24
    connections.create_connection(db.session.get(Workflow, workflow["id"]).workspace_id, "Team Slack", "slack",
                                  {"bot_token": token})
    exported = client.get(f"/api/v1/workflows/{workflow['id']}/export", headers=owner)
    assert b"Team Slack" in exported.data
    assert token.encode() not in exported.data


@pytest.mark.parametrize(("text", "path"), [
    ("name: X\ndefinition: {trigger: {type: manual}, steps: [{id: a, uses: core.set, with: {d: 2026-01-31}}]}\n",
     ""),
    ("name: X\nowner: me\ndefinition: {}\n", "owner"),
    ("name: X\ndefinition: [unclosed\n", ""),
    ("relay: 2\nname: X\ndefinition: {}\n", "relay"),
])
def test_a_bad_file_is_refused_with_its_problems_and_nothing_is_created(client, owner, text, path):
    response = client.post("/api/v1/workflows/import", data=text.encode(),
                           headers={**owner, "Content-Type": "application/yaml"})
    assert response.status_code == 422
    assert path in [d["path"] for d in response.get_json()["error"]["details"]]
    assert db.session.query(Workflow).count() == 0
    assert db.session.query(WorkflowVersion).count() == 0


def test_the_older_api_lists_workflows_like_v1(client, owner, make_workflow):
    make_workflow(name="Old guide")
    legacy = client.get("/api/workflows", headers=owner)
    assert legacy.status_code == 200
    assert legacy.get_json() == client.get("/api/v1/workflows", headers=owner).get_json()


def test_the_older_api_executes_with_trigger_data_as_the_body(client, owner, make_workflow):
    workflow = make_workflow(MANUAL)
    response = client.post(f"/api/workflows/{workflow['id']}/execute", json={"triggerData": {"x": 9}},
                           headers=owner)
    assert response.status_code == 202
    execution = db.session.get(Execution, response.get_json()["id"])
    assert execution.trigger == {"body": {"x": 9}}
    assert response.headers["Location"].endswith(f"/api/v1/executions/{execution.id}")


@pytest.mark.parametrize(("body", "status"), [({"triggerData": [1]}, 400), ({"data": {}}, 400)])
def test_the_older_api_refuses_a_malformed_execute_body(client, owner, make_workflow, body, status):
    workflow = make_workflow(MANUAL)
    assert client.post(f"/api/workflows/{workflow['id']}/execute", json=body, headers=owner).status_code == status


def test_the_older_api_needs_a_token(client, make_workflow):
    assert client.get("/api/workflows").status_code == 401


def test_start_up_counts_active_workflows_and_names_one_whose_connection_was_deleted(
        app, client, owner, make_workflow, caplog):
    broken = make_workflow(SLACK_STEP, publish=False)
    slack = connections.create_connection(db.session.get(Workflow, broken["id"]).workspace_id, "Team Slack", "slack",
                                          {"bot_token": "xoxb-" + "1" * 24})
    assert client.post(f"/api/v1/workflows/{broken['id']}/publish", headers=owner).status_code == 200
    make_workflow(MANUAL)
    connections.delete_connection(slack)

    with caplog.at_level(logging.INFO, logger="automation.workflow_checks"):
        log_workflow_health(app, "worker")

    assert "worker: 2 active workflow(s), 1 valid, 1 invalid" in caplog.messages
    assert any(m.startswith(f"workflow {broken['id']} no longer validates") and "'Team Slack' does not exist" in m
               for m in caplog.messages)


def test_a_published_workflow_whose_connection_was_deleted_shows_the_problem(client, owner, make_workflow):
    workflow = make_workflow(SLACK_STEP, publish=False)
    slack = connections.create_connection(db.session.get(Workflow, workflow["id"]).workspace_id, "Team Slack",
                                          "slack", {"bot_token": "xoxb-" + "1" * 24})
    client.post(f"/api/v1/workflows/{workflow['id']}/publish", headers=owner)
    assert client.get(f"/api/v1/workflows/{workflow['id']}", headers=owner).get_json()["problems"] == []

    connections.delete_connection(slack)

    assert client.get(f"/api/v1/workflows/{workflow['id']}", headers=owner).get_json()["problems"] == [
        {"path": "steps.say.connection", "message": "connection 'Team Slack' does not exist in this workspace"}]
