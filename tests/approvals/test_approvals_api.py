"""The approvals API: who may decide (assignee, role holders, owners; never viewers or read-only tokens;
another workspace's task is not found), rejection needs a comment, delegation moves the task and is
recorded, every decision lands in the run's history and the audit log, and the inbox list is ordered by
urgency."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from automation.models import AuditLog, Execution, db, utcnow
from tests.approvals.conftest import approval_flow, reasons, task_of

pytestmark = pytest.mark.storage


def url(execution_id: int, action: str = "") -> str:
    return f"/api/v1/approvals/{task_of(execution_id).id}" + (f"/{action}" if action else "")


def audit_rows() -> list[AuditLog]:
    return list(db.session.scalars(sa.select(AuditLog).order_by(AuditLog.id)))


def test_a_decision_is_recorded_in_the_run_history_and_the_audit_log(parked, client, tokens):
    execution_id = parked()
    task_id = task_of(execution_id).id

    response = client.post(url(execution_id, "approve"), json={"comment": "looks fine"}, headers=tokens["approver"])

    assert response.status_code == 200, response.get_json()
    assert reasons(execution_id)[-1] == "approved by ada@example.com: looks fine"
    [entry] = audit_rows()
    assert (entry.actor, entry.action, entry.target_type, entry.target_id) == (
        "ada@example.com", "approval.approve", "approval", str(task_id))
    assert (entry.before["status"], entry.before["assignee"]) == ("pending", "ada@example.com")
    assert (entry.after["status"], entry.after["comment"], entry.after["decided_by"]) == (
        "approved", "looks fine", "ada@example.com")


def test_a_rejection_without_a_comment_is_refused_and_changes_nothing(parked, client, tokens):
    execution_id = parked()

    response = client.post(url(execution_id, "reject"), json={"comment": "  "}, headers=tokens["approver"])

    assert response.status_code == 422
    assert response.get_json()["error"]["message"] == "a rejection needs a comment saying why"
    assert task_of(execution_id).status == "pending"
    assert db.session.get(Execution, execution_id).status == "waiting"
    assert audit_rows() == []


def test_delegating_moves_the_task_and_the_history_says_who_to_whom(parked, client, tokens):
    execution_id = parked()

    response = client.post(url(execution_id, "delegate"), json={"to": "alan@example.com"},
                           headers=tokens["approver"])

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["assignee"] == "alan@example.com"
    assert task_of(execution_id).status == "pending"
    assert reasons(execution_id)[-1] == "delegated by ada@example.com to alan@example.com"
    [entry] = audit_rows()
    assert (entry.action, entry.before["assignee"], entry.after["assignee"]) == (
        "approval.delegate", "ada@example.com", "alan@example.com")
    assert client.post(url(execution_id, "approve"), json={}, headers=tokens["approver"]).status_code == 403
    assert client.post(url(execution_id, "approve"), json={}, headers=tokens["second_approver"]).status_code == 200


def test_delegating_to_someone_who_cannot_decide_is_refused(parked, client, tokens):
    execution_id = parked()

    response = client.post(url(execution_id, "delegate"), json={"to": "vic@example.com"},
                           headers=tokens["approver"])

    assert response.status_code == 422
    assert "vic@example.com is a viewer" in response.get_json()["error"]["message"]
    assert task_of(execution_id).assignee_user_id is not None
    assert audit_rows() == []


@pytest.mark.parametrize("who", ["viewer", "read_only"])
def test_a_viewer_or_read_only_token_cannot_decide(parked, client, tokens, who):
    execution_id = parked()

    response = client.post(url(execution_id, "approve"), json={}, headers=tokens[who])

    assert response.status_code == 403
    assert task_of(execution_id).status == "pending"
    assert client.get(url(execution_id), headers=tokens[who]).status_code == 200  # reading is fine


def test_a_member_the_task_is_not_for_cannot_decide_it_but_an_owner_can(parked, client, tokens):
    execution_id = parked()

    refused = client.post(url(execution_id, "approve"), json={}, headers=tokens["editor"])
    owner = client.post(url(execution_id, "approve"), json={}, headers=tokens["owner"])

    assert refused.status_code == 403
    assert refused.get_json()["error"]["message"] == (
        "this approval is for ada@example.com; only they or an owner can decide it")
    assert owner.status_code == 200
    assert owner.get_json()["decided_by"] == "olga@example.com"


def test_a_task_of_another_workspace_is_not_found(parked, client, other_workspace):
    execution_id = parked()

    assert client.get(url(execution_id), headers=other_workspace).status_code == 404
    assert client.post(url(execution_id, "approve"), json={}, headers=other_workspace).status_code == 404
    assert client.get("/api/v1/approvals", headers=other_workspace).get_json()["items"] == []
    assert task_of(execution_id).status == "pending"


def test_the_inbox_lists_my_pending_tasks_by_urgency_then_due_time(parked, client, tokens):
    now = utcnow()
    shapes = {  # title: (due in, due soon from); None: no SLA
        "normal, due first": (timedelta(hours=3), timedelta(hours=1)),
        "due soon": (timedelta(hours=5), -timedelta(hours=1)),
        "overdue": (-timedelta(hours=1), -timedelta(hours=5)),
        "overdue longest": (-timedelta(hours=3), -timedelta(hours=7)),
        "no SLA": None,
    }
    for title, shape in shapes.items():
        task = task_of(parked(approval_flow("role:approver")))
        task.title = title
        task.due_at, task.due_soon_at = (now + shape[0], now + shape[1]) if shape else (None, None)
        db.session.commit()
    decided = task_of(parked(approval_flow("role:approver")))
    approved = client.post(f"/api/v1/approvals/{decided.id}/approve", json={}, headers=tokens["approver"])
    assert approved.status_code == 200
    not_mine = task_of(parked(approval_flow("role:editor")))

    listed = client.get("/api/v1/approvals?status=pending&assignee=me", headers=tokens["second_approver"]).get_json()

    assert [(i["title"], i["urgency"]) for i in listed["items"]] == [
        ("overdue longest", "overdue"), ("overdue", "overdue"), ("due soon", "due_soon"),
        ("normal, due first", "normal"), ("no SLA", "normal"),
    ]
    assert listed["total"] == 5
    assert -1.01 < listed["items"][1]["hours_remaining"] < -0.99
    assert listed["items"][4]["hours_remaining"] is None
    assert not_mine.id not in [i["id"] for i in listed["items"]]
    everything = client.get("/api/v1/approvals", headers=tokens["owner"]).get_json()["items"]
    assert {i["status"] for i in everything} == {"pending", "approved"}
    assert everything[-1]["id"] == decided.id  # decided tasks sort after every pending one


def test_one_task_reads_with_its_workflow_and_sla(parked, client, tokens):
    execution_id = parked()

    task = client.get(url(execution_id), headers=tokens["approver"]).get_json()

    assert task["title"] == "Refund 120 EUR to Grace"
    assert (task["status"], task["assignee"], task["urgency"]) == ("pending", "ada@example.com", "normal")
    assert task["workflow"]["name"] == "Refunds"
    assert task["execution_id"] == execution_id
    assert 23.9 < task["hours_remaining"] <= 24


@pytest.mark.parametrize(("query", "parameter"), [("status=waiting", "status"), ("assignee=ada", "assignee")])
def test_an_unknown_list_filter_is_a_bad_request(client, tokens, query, parameter):
    response = client.get(f"/api/v1/approvals?{query}", headers=tokens["owner"])

    assert response.status_code == 400
    assert response.get_json()["error"]["details"] == {"parameter": parameter}
