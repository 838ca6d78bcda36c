"""End to end: a workflow made and run through the API parks at its approval on a real `relay worker`,
shows up in the approver's inbox, and an approval through the API has the worker finish it."""

from __future__ import annotations

import pytest

from tests.approvals.conftest import REFUND, approval_flow
from tests.conftest import wait_for

pytestmark = pytest.mark.storage


def test_an_approval_through_the_api_resumes_the_run_on_a_real_worker(client, tokens, start_process):
    owner, ada = tokens["owner"], tokens["approver"]
    created = client.post("/api/v1/workflows", json={"name": "Refunds", "definition": approval_flow()}, headers=owner)
    assert created.status_code == 201, created.get_json()
    workflow_id = created.get_json()["id"]
    assert client.post(f"/api/v1/workflows/{workflow_id}/publish", headers=owner).status_code == 200
    worker = start_process("worker")
    started = client.post(f"/api/v1/workflows/{workflow_id}/executions", json=REFUND, headers=owner)
    execution_url = f"/api/v1/executions/{started.get_json()['id']}"

    def status(wanted: str) -> dict | None:
        data = client.get(execution_url, headers=owner).get_json()
        return data if data["status"] == wanted else None

    wait_for(lambda: status("waiting"), timeout=30, message=f"worker log:\n{worker.output()}")
    [task] = client.get("/api/v1/approvals?status=pending&assignee=me", headers=ada).get_json()["items"]
    assert task["title"] == "Refund 120 EUR to Grace"
    approved = client.post(f"/api/v1/approvals/{task['id']}/approve", json={"comment": "ok"}, headers=ada)
    assert approved.status_code == 200, approved.get_json()

    execution = wait_for(lambda: status("succeeded"), timeout=30, message=f"worker log:\n{worker.output()}")
    assert [(s["step_id"], s["status"]) for s in execution["steps"]] == [
        ("ask", "succeeded"), ("refund", "succeeded"), ("apologise", "skipped"),
    ]
    assert execution["steps"][1]["output"] == {"note": "refunded, approved by ada@example.com"}
    assert [(e["from"], e["to"], e["reason"]) for e in execution["events"] if e["from"] == "waiting"] == [
        ("waiting", "queued", "approved by ada@example.com: ok")]
