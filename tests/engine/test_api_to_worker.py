"""The whole path: a workflow created and published through the API, executed through
POST /executions, run by a real `relay worker` process, read back through the API."""

from __future__ import annotations

import pytest

from automation.accounts import create_api_token, create_user
from tests.conftest import wait_for
from tests.engine.test_engine import SET_FILTER_SET

pytestmark = pytest.mark.storage


@pytest.fixture
def auth(ctx) -> dict[str, str]:
    create_user("owner@example.com", "correct horse battery", "owner")
    return {"Authorization": f"Bearer {create_api_token('owner@example.com')}"}


def _create_and_publish(client, auth) -> int:
    created = client.post("/api/v1/workflows", json={"name": "Leads", "definition": SET_FILTER_SET}, headers=auth)
    assert created.status_code == 201, created.get_json()
    workflow_id = created.get_json()["id"]
    published = client.post(f"/api/v1/workflows/{workflow_id}/publish", headers=auth)
    assert published.status_code == 200, published.get_json()
    return workflow_id


def _run_to_end(client, auth, workflow_id: int, body: dict, worker) -> dict:
    accepted = client.post(f"/api/v1/workflows/{workflow_id}/executions", json=body, headers=auth)
    assert accepted.status_code == 202, accepted.get_json()
    execution_id = accepted.get_json()["id"]

    def finished() -> dict | None:
        data = client.get(f"/api/v1/executions/{execution_id}", headers=auth).get_json()
        return data if data["status"] in ("succeeded", "failed") else None

    return wait_for(finished, timeout=30, message=f"worker log:\n{worker.output()}")


def test_api_workflow_runs_on_a_real_worker_with_rendered_outputs(client, auth, start_process):
    workflow_id = _create_and_publish(client, auth)
    worker = start_process("worker")

    execution = _run_to_end(client, auth, workflow_id, {"name": "ada", "amount": 60}, worker)

    assert execution["status"] == "succeeded"
    assert [(s["step_id"], s["status"]) for s in execution["steps"]] == [
        ("lead", "succeeded"), ("big", "succeeded"), ("summary", "succeeded")
    ]
    assert execution["steps"][0]["output"] == {"name": "ADA", "amount": 120}
    assert execution["steps"][2]["output"]["text"] == "ADA owes 120"
    assert [(e["from"], e["to"]) for e in execution["events"]] == [
        (None, "queued"), ("queued", "running"), ("running", "succeeded")
    ]


def test_api_workflow_with_false_filter_skips_later_steps(client, auth, start_process):
    workflow_id = _create_and_publish(client, auth)
    worker = start_process("worker")

    execution = _run_to_end(client, auth, workflow_id, {"name": "bob", "amount": 10}, worker)

    assert execution["status"] == "succeeded"
    assert [(s["step_id"], s["status"]) for s in execution["steps"]] == [
        ("lead", "succeeded"), ("big", "succeeded"), ("summary", "skipped")
    ]
