"""Every API error path answers the JSON error shape with the right 4xx — never a 500, never HTML."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from automation.accounts import create_api_token, create_user
from automation.models import ApiToken, Execution, db, utcnow
from automation.transitions import change_status
from tests.api.conftest import MANUAL, bearer

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
        ({"name": "", "definition": MANUAL}, 422, "name"),
        ({"name": "two\nlines", "definition": MANUAL}, 422, "name"),
        ({"name": "x" * 201, "definition": MANUAL}, 422, "name"),
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


@pytest.mark.parametrize(
    "body",
    [
        {"name": 5, "definition": MANUAL},
        {"name": None, "definition": MANUAL},
        {"name": "x", "definition": "not an object"},
        {"name": "x", "definition": MANUAL, "colour": "red"},
        {"name": "x", "definition": MANUAL, "params": [1]},
    ],
)
def test_wrong_types_and_unknown_fields_are_bad_requests(client, owner, body):
    assert_error(client.post("/api/v1/workflows", json=body, headers=owner), 400, "bad_request")


def test_wrong_type_in_an_edit_is_a_bad_request_and_changes_nothing(client, owner, make_workflow):
    workflow = make_workflow()
    assert_error(client.patch(f"/api/v1/workflows/{workflow['id']}", json={"name": ["Leads"]}, headers=owner),
                 400, "bad_request", contains="name")
    assert client.get(f"/api/v1/workflows/{workflow['id']}", headers=owner).get_json()["name"] == "Leads"


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
        ("get", "/api/v1/workflows/99999999999999999999999"),
        ("get", "/api/v1/workflows/2147483648"),
        ("get", "/api/v1/workflows/-1"),
        ("get", "/api/v1/executions/99999999999999999999999"),
        ("get", "/api/v1/no-such-thing"),
        ("get", "/api/v2/workflows"),
        ("get", "/api"),
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


def test_wrong_method_is_a_json_405_naming_the_allowed_ones(client, owner):
    response = client.put("/api/v1/workflows", json={}, headers=owner)
    assert_error(response, 405, "method_not_allowed")
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["Allow"].split(",")}


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer rly_wrong", "Basic abc", "rly_token-without-scheme"])
def test_missing_or_bad_tokens_are_401(client, owner, header):
    headers = {"Authorization": header} if header else {}
    response = client.get("/api/v1/workflows", headers=headers)
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


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


@pytest.mark.parametrize("who", ["approver", "read_only"])
def test_approvers_and_read_only_tokens_can_read_but_not_change(client, owner, make_workflow, who):
    workflow = make_workflow()
    if who == "approver":
        create_user("approver@example.com", "correct horse battery", "approver")
        headers = bearer(create_api_token("approver@example.com"))
    else:
        headers = bearer(create_api_token("owner@example.com", read_only=True))

    assert client.get(f"/api/v1/workflows/{workflow['id']}", headers=headers).status_code == 200
    assert_error(client.post(f"/api/v1/workflows/{workflow['id']}/executions", json={}, headers=headers),
                 403, "forbidden")
    assert_error(client.delete(f"/api/v1/workflows/{workflow['id']}", headers=headers), 403, "forbidden")
    assert db.session.query(Execution).count() == 0


@pytest.mark.parametrize("path", ["/api/v1/workflows", "/api/v1/workflows/1/executions"])
def test_body_over_the_size_limit_is_413(client, owner, app, make_workflow, path):
    make_workflow()
    big = '{"x": "' + "x" * app.config["RELAY_MAX_BODY_BYTES"] + '"}'
    response = client.post(path, data=big, content_type="application/json", headers=owner)
    assert_error(response, 413, "payload_too_large")
    assert db.session.query(Execution).count() == 0


@pytest.mark.parametrize(
    ("data", "contains"),
    [
        ('{"x": NaN}', "not valid JSON"),
        ('{"x": -Infinity}', "not valid JSON"),
        ('{"x": 1e999}', "not valid JSON"),
        ('{"x": "nul \\u0000 here"}', "NUL"),
        ('{"nul \\u0000 key": 1}', "NUL"),
        ('{"x": ["\\ud800"]}', "surrogate"),
        ('{"x": ' + "[" * 100 + "]" * 100 + "}", "nested"),
        ('{"x": ' + "[" * 5000 + "]" * 5000 + "}", "nested"),
        (b'{"x": "\xff"}', "not valid JSON"),
    ],
)
def test_bodies_the_database_could_not_store_are_bad_requests(client, owner, make_workflow, data, contains):
    workflow = make_workflow()
    response = client.post(f"/api/v1/workflows/{workflow['id']}/executions", data=data,
                           content_type="application/json", headers=owner)
    assert_error(response, 400, "bad_request", contains=contains)
    assert db.session.query(Execution).count() == 0


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


def test_retrying_a_queued_running_or_succeeded_execution_is_a_conflict(client, owner, make_workflow):
    from automation.engine import run_execution

    workflow = make_workflow()
    url = f"/api/v1/workflows/{workflow['id']}/executions"
    queued, running, done = (client.post(url, json={}, headers=owner).get_json()["id"] for _ in range(3))
    assert change_status(db.session, running, "queued", "running", started_at=utcnow())
    db.session.commit()
    run_execution(done)

    for execution_id in (queued, running, done):
        assert_error(client.post(f"/api/v1/executions/{execution_id}/retry", headers=owner), 409, "conflict")
    assert_error(client.post(f"/api/v1/executions/{done}/cancel", headers=owner), 409, "conflict")
    statuses = dict(db.session.execute(sa.select(Execution.id, Execution.status)).all())
    assert statuses == {queued: "queued", running: "running", done: "succeeded"}


@pytest.mark.parametrize(
    ("query", "parameter"),
    [("status=finished", "status"), ("workflow_id=abc", "workflow_id"), ("workflow_id=1.5", "workflow_id"),
     ("page=0", "page"), ("page=two", "page"), ("page=99999999999999999999999", "page"), ("per_page=0", "per_page"),
     ("per_page=%205", "per_page")],
)
def test_bad_list_parameters_name_the_parameter(client, owner, query, parameter):
    error = assert_error(client.get(f"/api/v1/executions?{query}", headers=owner), 400, "bad_request")
    assert error["details"] == {"parameter": parameter}


def test_too_long_idempotency_key_is_refused(client, owner, make_workflow):
    workflow = make_workflow()
    response = client.post(f"/api/v1/workflows/{workflow['id']}/executions", json={},
                           headers={**owner, "Idempotency-Key": "k" * 256})
    assert_error(response, 400, "bad_request", contains="Idempotency-Key")


def test_reusing_an_idempotency_key_with_another_body_is_refused(client, owner, make_workflow):
    workflow = make_workflow()
    url = f"/api/v1/workflows/{workflow['id']}/executions"
    first = client.post(url, json={"x": 1}, headers={**owner, "Idempotency-Key": "order-42"})
    error = assert_error(client.post(url, json={"x": 2}, headers={**owner, "Idempotency-Key": "order-42"}),
                         422, "invalid", contains="Idempotency-Key")
    assert error["details"] == {"execution_id": first.get_json()["id"]}
    assert db.session.query(Execution).count() == 1


@pytest.mark.parametrize(("body", "status"), [({"version": 9}, 422), ({"version": 0}, 422),
                                              ({"version": 2**40}, 422), ({"version": "1"}, 400),
                                              ({"version": True}, 400), ({"colour": 1}, 400)])
def test_publishing_a_version_that_does_not_exist_is_refused(client, owner, make_workflow, body, status):
    workflow = make_workflow(publish=False)
    assert_error(client.post(f"/api/v1/workflows/{workflow['id']}/publish", json=body, headers=owner),
                 status, "invalid" if status == 422 else "bad_request")
    assert client.get(f"/api/v1/workflows/{workflow['id']}", headers=owner).get_json()["status"] == "draft"


def test_unexpected_exception_is_a_logged_json_500_without_details(client, owner, monkeypatch, caplog):
    from automation.web import api

    def explode(*_args, **_kwargs):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(api, "workflows_json", explode)
    client.application.config["PROPAGATE_EXCEPTIONS"] = False
    client.post("/api/v1/workflows", json={"name": "x", "definition": MANUAL}, headers=owner)
    error = assert_error(client.get("/api/v1/workflows", headers=owner), 500, "internal_error")
    assert "hunter2" not in error["message"]
    assert any(r.exc_info and "hunter2" in str(r.exc_info[1]) for r in caplog.records)
