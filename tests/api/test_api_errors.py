"""Every API error path answers the JSON error shape with the right 4xx — never a 500, never HTML."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from automation.models import ApiToken, Execution, db, utcnow
from tests.api.conftest import MANUAL

pytestmark = pytest.mark.storage


def assert_error(response, status: int, code: str, *, contains: str = "") -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code
    assert contains.lower() in error["message"].lower()
    return error


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code", "contains"),
    [
        ("{not json", "application/json", 400, "bad_request", "not valid JSON"),
        ("[1, 2]", "application/json", 400, "bad_request", "JSON object"),
        ('"text"', "application/json", 400, "bad_request", "JSON object"),
        ("name=x", "application/x-www-form-urlencoded", 415, "unsupported_media_type", "JSON"),
        ("", "application/json", 400, "bad_request", "JSON object"),
    ],
)
def test_malformed_bodies_are_refused(client, owner, data, content_type, status, code, contains):
    response = client.post("/api/v1/workflows", data=data, content_type=content_type, headers=owner)
    assert_error(response, status, code, contains=contains)


@pytest.mark.parametrize(
    ("body", "status", "path"),
    [
        ({"definition": MANUAL}, 422, "name"),
        ({"name": 5, "definition": MANUAL}, 422, "name"),
        ({"name": "", "definition": MANUAL}, 422, "name"),
        ({"name": "x"}, 422, "definition"),
        ({"name": "x", "definition": {"trigger": {"type": "manual"}, "steps": [{"id": "a", "uses": "nope.x"}]}},
         422, "definition.steps[0].uses"),
    ],
)
def test_invalid_workflows_are_refused_with_every_problem_listed(client, owner, body, status, path):
    error = assert_error(client.post("/api/v1/workflows", json=body, headers=owner), status, "invalid")
    assert path in [d["path"] for d in error["details"]]


def test_several_definition_problems_are_reported_together(client, owner):
    definition = {"trigger": {"type": "sometimes"}, "steps": [
        {"id": "a", "uses": "core.set", "with": {"x": "{{ steps.b.output }}"}},
        {"id": "a", "uses": "core.delay", "with": {"for": "soon"}},
    ]}
    error = assert_error(client.post("/api/v1/workflows", json={"name": "x", "definition": definition},
                                     headers=owner), 422, "invalid")
    paths = {d["path"] for d in error["details"]}
    assert {"definition.trigger.type", "definition.steps[0].with.x", "definition.steps[1].id",
            "definition.steps[1].with.for"} <= paths


@pytest.mark.parametrize("body", [{"name": "x", "definition": "not an object"}, {"name": "x", "definition": MANUAL,
                                                                               "colour": "red"},
                                  {"name": "x", "definition": MANUAL, "params": [1]}])
def test_wrong_types_and_unknown_fields_are_bad_requests(client, owner, body):
    assert_error(client.post("/api/v1/workflows", json=body, headers=owner), 400, "bad_request")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/workflows/999"),
        ("get", "/api/v1/workflows/abc"),
        ("patch", "/api/v1/workflows/999"),
        ("delete", "/api/v1/workflows/999"),
        ("post", "/api/v1/workflows/999/publish"),
        ("post", "/api/v1/workflows/999/pause"),
        ("post", "/api/v1/workflows/999/executions"),
        ("get", "/api/v1/executions/999"),
        ("post", "/api/v1/executions/999/retry"),
        ("post", "/api/v1/executions/999/cancel"),
        ("get", "/api/v1/no-such-thing"),
    ],
)
def test_unknown_ids_and_routes_are_json_404s(client, owner, method, path):
    response = getattr(client, method)(path, json={"name": "x"}, headers=owner)
    assert_error(response, 404, "not_found")


def test_another_workspaces_ids_are_404_not_403(client, owner, other_workspace, make_workflow):
    theirs = make_workflow(headers=other_workspace)
    execution_id = client.post(f"/api/v1/workflows/{theirs['id']}/executions", json={},
                               headers=other_workspace).get_json()["id"]

    assert_error(client.get(f"/api/v1/workflows/{theirs['id']}", headers=owner), 404, "not_found")
    assert_error(client.post(f"/api/v1/workflows/{theirs['id']}/executions", json={}, headers=owner), 404,
                 "not_found")
    assert_error(client.get(f"/api/v1/executions/{execution_id}", headers=owner), 404, "not_found")
    assert_error(client.post(f"/api/v1/executions/{execution_id}/cancel", headers=owner), 404, "not_found")


def test_wrong_method_is_a_json_405(client, owner):
    assert_error(client.put("/api/v1/workflows", json={}, headers=owner), 405, "method_not_allowed")


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer rly_wrong", "Basic abc", "rly_token-without-scheme"])
def test_missing_or_bad_tokens_are_401(client, owner, header):
    headers = {"Authorization": header} if header else {}
    assert_error(client.get("/api/v1/workflows", headers=headers), 401, "unauthorized")


def test_revoked_token_stops_working_at_once(client, owner):
    assert client.get("/api/v1/workflows", headers=owner).status_code == 200
    db.session.execute(sa.update(ApiToken).values(revoked_at=utcnow()))
    db.session.commit()
    assert_error(client.get("/api/v1/workflows", headers=owner), 401, "unauthorized", contains="revoked")


def test_viewer_can_read_but_not_change(client, viewer, make_workflow):
    make_workflow()
    assert client.get("/api/v1/workflows", headers=viewer).status_code == 200
    assert_error(client.post("/api/v1/workflows", json={"name": "x", "definition": MANUAL}, headers=viewer),
                 403, "forbidden")


def test_body_over_the_size_limit_is_413(client, owner, app):
    big = "x" * (app.config["RELAY_MAX_BODY_BYTES"] + 1)
    response = client.post("/api/v1/workflows", data=big, content_type="application/json", headers=owner)
    assert_error(response, 413, "payload_too_large")


def test_running_a_draft_or_paused_workflow_is_a_conflict(client, owner, make_workflow):
    draft = make_workflow(publish=False)
    active = make_workflow(name="Paused")
    client.post(f"/api/v1/workflows/{active['id']}/pause", headers=owner)

    assert_error(client.post(f"/api/v1/workflows/{draft['id']}/executions", json={}, headers=owner), 409,
                 "conflict", contains="not been published")
    assert_error(client.post(f"/api/v1/workflows/{active['id']}/executions", json={}, headers=owner), 409,
                 "conflict", contains="paused")
    assert db.session.query(Execution).count() == 0


def test_pausing_a_draft_is_a_conflict(client, owner, make_workflow):
    draft = make_workflow(publish=False)
    assert_error(client.post(f"/api/v1/workflows/{draft['id']}/pause", headers=owner), 409, "conflict")


def test_retrying_a_queued_or_succeeded_execution_is_a_conflict(client, owner, make_workflow):
    from automation.engine import run_execution

    workflow = make_workflow()
    url = f"/api/v1/workflows/{workflow['id']}/executions"
    queued = client.post(url, json={}, headers=owner).get_json()["id"]
    done = client.post(url, json={}, headers=owner).get_json()["id"]
    run_execution(done)

    assert_error(client.post(f"/api/v1/executions/{queued}/retry", headers=owner), 409, "conflict")
    assert_error(client.post(f"/api/v1/executions/{done}/retry", headers=owner), 409, "conflict")
    assert_error(client.post(f"/api/v1/executions/{done}/cancel", headers=owner), 409, "conflict")


@pytest.mark.parametrize(
    ("query", "parameter"),
    [("status=finished", "status"), ("workflow_id=abc", "workflow_id"), ("page=0", "page"),
     ("per_page=100000", "per_page")],
)
def test_bad_list_parameters_name_the_parameter(client, owner, query, parameter):
    error = assert_error(client.get(f"/api/v1/executions?{query}", headers=owner), 400, "bad_request")
    assert error["details"] == {"parameter": parameter}


def test_too_long_idempotency_key_is_refused(client, owner, make_workflow):
    workflow = make_workflow()
    response = client.post(f"/api/v1/workflows/{workflow['id']}/executions", json={},
                           headers={**owner, "Idempotency-Key": "k" * 256})
    assert_error(response, 400, "bad_request", contains="Idempotency-Key")


def test_unexpected_exception_is_a_json_500_without_details(client, owner, monkeypatch):
    from automation.web import api

    def explode(*_args, **_kwargs):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(api, "workflow_json", explode)
    client.application.config["PROPAGATE_EXCEPTIONS"] = False
    client.post("/api/v1/workflows", json={"name": "x", "definition": MANUAL}, headers=owner)
    error = assert_error(client.get("/api/v1/workflows", headers=owner), 500, "internal_error")
    assert "hunter2" not in error["message"]
