"""The expense-approval template driven through approve, reject, delegate-then-approve and an SLA that passes,
with its Slack notices on: the harness and peers of tests/templates (a real SMTP server, a Slack stand-in),
checking each run's outputs and history."""

from __future__ import annotations

import time
from typing import Any

import pytest

from automation import approval_links, approval_sla
from automation.models import ApprovalTask, db, utcnow
from tests.approvals.conftest import reasons, step_output
from tests.templates import conftest as template_fixtures
from tests.templates.conftest import APPROVER, Harness
from tests.templates.test_end_to_end import example

# The template tests' fixtures, used as they are.
settings = template_fixtures.settings
ctx = template_fixtures.ctx
owner = template_fixtures.owner
approver = template_fixtures.approver
start_smtp = template_fixtures.start_smtp
certificate = template_fixtures.certificate
peers = template_fixtures.peers
connections = template_fixtures.connections
harness = template_fixtures.harness
EMPLOYEE = "grace@example.com"


def park(h: Harness, **params: Any) -> tuple[int, dict[str, Any]]:
    """An expense submitted with Slack notices on, waiting for the manager; (execution id, the opening post)."""
    workflow = h.create("expense-approval", approver=APPROVER, accounting_url=h.peers.receiver.url + "/expenses",
                        notify_slack="Team Slack", notify_channel="#expenses", **params)
    execution_id = h.hook(workflow, example("expense-approval"))
    assert h.run(execution_id).status == "waiting"
    approval_sla.run_pass()
    [post] = h.peers.slack_posts()
    assert post["channel"] == "#expenses"
    assert "Expense: 129.90 EUR from Grace Hopper" in post["text"] and "Train tickets" in post["text"]
    return execution_id, post


def task_id(h: Harness) -> int:
    [task] = h.client.get("/api/v1/approvals?status=pending", headers=h.owner).get_json()["items"]
    return int(task["id"])


def test_approving_from_the_slack_link_pays_the_expense(harness: Harness) -> None:
    execution_id, post = park(harness)
    path = next(part for part in post["text"].split() if "/approvals/act/" in part and "Approve" not in part)
    token = path.rsplit("/", 1)[1]
    assert approval_links.read(token).decision == "approve"
    client = harness.client.application.test_client()
    page = client.get(approval_links.PATH + token)
    assert page.status_code == 200
    csrf = page.get_data(as_text=True).split('name="csrf_token" type="hidden" value="')[1].split('"')[0]

    decided = client.post(approval_links.PATH + token, data={"comment": "Fine, thanks.", "csrf_token": csrf})

    assert decided.status_code == 200, decided.get_data(as_text=True)
    assert harness.run(execution_id).status == "succeeded"
    assert step_output(execution_id, "approve")["decided_by"] == APPROVER
    assert harness.steps(execution_id) == {"expense": "succeeded", "approve": "succeeded",
                                           "approved_email": "succeeded", "to_accounting": "succeeded",
                                           "rejected_email": "skipped"}
    assert harness.peers.recipients() == [[EMPLOYEE]]
    assert f"approved by {APPROVER}: Fine, thanks." in reasons(execution_id)


def test_rejecting_tells_the_employee_why(harness: Harness) -> None:
    execution_id, _ = park(harness)

    response = harness.client.post(f"/api/v1/approvals/{task_id(harness)}/reject",
                                   json={"comment": "Use the travel agent."}, headers=harness.approver)

    assert response.status_code == 200
    assert harness.run(execution_id).status == "succeeded"
    output = step_output(execution_id, "approve")
    assert (output["decision"], output["decided_by"], output["comment"]) == ("rejected", APPROVER,
                                                                           "Use the travel agent.")
    assert harness.steps(execution_id)["to_accounting"] == "skipped"
    assert "Reason: Use the travel agent." in harness.peers.texts()[0]
    assert harness.peers.receiver.requests == []


def test_delegating_then_approving_records_both_and_notifies_the_delegate(harness: Harness) -> None:
    execution_id, _ = park(harness)
    task = task_id(harness)

    delegated = harness.client.post(f"/api/v1/approvals/{task}/delegate", json={"to": "owner@example.com"},
                                    headers=harness.approver)
    assert delegated.status_code == 200
    approval_sla.run_pass()
    approved = harness.client.post(f"/api/v1/approvals/{task}/approve", json={}, headers=harness.owner)

    assert approved.status_code == 200
    assert harness.run(execution_id).status == "succeeded"
    assert step_output(execution_id, "approve")["decided_by"] == "owner@example.com"
    history = reasons(execution_id)
    assert f"delegated by {APPROVER} to owner@example.com" in history
    assert history.index(f"delegated by {APPROVER} to owner@example.com") < history.index(
        "approved by owner@example.com")
    notice = harness.peers.slack_posts()[-1]
    assert notice["text"].startswith("An approval was delegated to you.")
    [delivery] = harness.peers.receiver.requests
    assert delivery.path == "/expenses"


@pytest.mark.storage
def test_an_sla_that_passes_escalates_to_the_finance_lead(harness: Harness) -> None:
    execution_id, _ = park(harness, escalate_to="owner@example.com")
    task = db.session.get(ApprovalTask, task_id(harness))
    assert task is not None
    # The template's SLA is whole hours: move this task's SLA into the past rather than wait for it.
    task.due_at = task.due_soon_at = utcnow()
    db.session.commit()
    time.sleep(0.01)

    result = approval_sla.run_pass()

    assert (result.escalated, result.notified) == (1, 1)
    escalated = harness.peers.slack_posts()[-1]
    assert escalated["text"].startswith("An approval was escalated to you because its SLA passed.")
    assert "(overdue)" in escalated["text"] and "/approvals/act/" in escalated["text"]
    shown = harness.client.get(f"/api/v1/approvals/{task.id}", headers=harness.owner).get_json()
    assert (shown["assignee"], shown["urgency"], shown["status"]) == ("owner@example.com", "overdue", "pending")
    assert reasons(execution_id)[-1] == "escalated to owner@example.com after the SLA passed"
    assert harness.run(execution_id).status == "waiting"
    assert approval_sla.run_pass().escalated == 0
