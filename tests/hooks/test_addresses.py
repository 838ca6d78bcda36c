"""Which addresses accept requests: only the current token of a published, active webhook workflow.
Everything else is a JSON error, and nothing is stored."""

from __future__ import annotations

import pytest

from automation.accounts import create_api_token, create_user
from tests.hooks.conftest import hook_path, stored_executions, webhook

pytestmark = pytest.mark.storage


def assert_refused(response, status: int, code: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == code
    assert stored_executions() == []


def test_an_unknown_token_is_404(client, ctx):
    assert_refused(client.post("/hooks/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", json={}), 404, "not_found")


def test_a_malformed_token_is_404(client, ctx):
    assert_refused(client.post("/hooks/" + "x" * 500, json={}), 404, "not_found")


def test_an_unpublished_workflow_is_404(client, make_hook):
    assert_refused(client.post(make_hook(publish=False)["path"], json={}), 404, "not_found")


def test_a_workflow_published_with_another_trigger_is_404(client, make_hook, owner):
    workflow = make_hook()
    manual = {**webhook(), "trigger": {"type": "manual"}}
    client.patch(f"/api/v1/workflows/{workflow['id']}", json={"definition": manual}, headers=owner)
    client.post(f"/api/v1/workflows/{workflow['id']}/publish", headers=owner)

    assert_refused(client.post(workflow["path"], json={}), 404, "not_found")


def test_a_paused_workflow_is_409_with_a_clear_message(client, make_hook, owner):
    workflow = make_hook()
    client.post(f"/api/v1/workflows/{workflow['id']}/pause", headers=owner)

    response = client.post(workflow["path"], json={})

    assert_refused(response, 409, "conflict")
    assert "paused" in response.get_json()["error"]["message"]


def test_regenerating_the_token_moves_the_address_and_the_old_one_is_404(client, make_hook, owner):
    workflow = make_hook()

    rotated = client.post(f"/api/v1/workflows/{workflow['id']}/hook-token", headers=owner)

    assert rotated.status_code == 200
    new_path = hook_path(rotated.get_json())
    assert new_path != workflow["path"]
    assert_refused(client.post(workflow["path"], json={}), 404, "not_found")
    assert client.post(new_path, json={}).status_code == 202


def test_only_editors_and_owners_may_regenerate_the_token(client, make_hook):
    workflow = make_hook()
    create_user("viewer@example.com", "correct horse battery", "viewer")
    viewer = {"Authorization": f"Bearer {create_api_token('viewer@example.com')}"}

    response = client.post(f"/api/v1/workflows/{workflow['id']}/hook-token", headers=viewer)

    assert response.status_code == 403
    assert client.post(workflow["path"], json={}).status_code == 202


def test_other_methods_are_405_json(client, make_hook):
    response = client.put(make_hook()["path"], json={})

    assert_refused(response, 405, "method_not_allowed")
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
