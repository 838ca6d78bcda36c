"""The ``core.approval`` step in the engine: a run parks at it without holding a worker, resumes into the
branch its decision selects, fails clearly on an assignee who cannot decide, and waits through its SLA
without being woken into a loop."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from rq.registry import ScheduledJobRegistry

from automation import dispatch, ingest
from automation.models import ApprovalTask, Execution, User, db, utcnow
from automation.reaper import reap
from tests.approvals.conftest import (
    REFUND,
    approval_flow,
    reasons,
    run,
    step_output,
    step_statuses,
    task_of,
)

pytestmark = pytest.mark.storage


def approve(client, tokens, execution_id: int, who: str = "approver", comment: str = "looks fine"):
    return client.post(f"/api/v1/approvals/{task_of(execution_id).id}/approve", json={"comment": comment},
                       headers=tokens[who])


def test_run_parks_at_the_approval_with_a_rendered_task_and_no_worker_held(parked, queue_name):
    before = utcnow()
    execution_id = parked(approval_flow(remind_every="4h", escalate_to="role:owner"))

    task = task_of(execution_id)
    ada = db.session.scalar(sa.select(User).where(User.email == "ada@example.com"))
    assert (task.title, task.details) == ("Refund 120 EUR to Grace", "Order A-17 (Refunds)")
    assert (task.status, task.assignee_user_id, task.assignee_role) == ("pending", ada.id, None)
    assert timedelta(hours=24) <= task.due_at - before < timedelta(hours=24, minutes=1)
    assert task.due_at - task.due_soon_at == timedelta(hours=4, minutes=48)  # the last fifth of the SLA
    assert (task.remind_every_seconds, task.escalate_to) == (4 * 3600, "role:owner")
    execution = db.session.get(Execution, execution_id)
    assert (execution.status, execution.wake_at, execution.run_token, execution.lease_expires_at) == (
        "waiting", None, None, None)
    assert step_statuses(execution_id) == {"ask": "waiting"}
    assert ScheduledJobRegistry(queue=dispatch.queue()).get_job_ids() == []  # nothing set to wake it


def test_approving_resumes_the_run_into_the_approved_branch(parked, client, tokens):
    execution_id = parked()

    response = approve(client, tokens, execution_id)

    assert response.status_code == 200, response.get_json()
    assert db.session.get(Execution, execution_id).status == "queued"
    assert dispatch.is_queued(execution_id)
    assert run(execution_id).status == "succeeded"
    assert step_statuses(execution_id) == {"ask": "succeeded", "refund": "succeeded", "apologise": "skipped"}
    task = task_of(execution_id)
    assert step_output(execution_id, "ask") == {
        "decision": "approved", "decided_by": "ada@example.com", "comment": "looks fine",
        "decided_at": task.decided_at.isoformat(),
    }
    assert step_output(execution_id, "refund") == {"note": "refunded, approved by ada@example.com"}


def test_rejecting_resumes_the_run_into_the_rejected_branch(parked, client, tokens):
    execution_id = parked()

    response = client.post(f"/api/v1/approvals/{task_of(execution_id).id}/reject",
                           json={"comment": "order was never paid"}, headers=tokens["approver"])

    assert response.status_code == 200, response.get_json()
    assert run(execution_id).status == "succeeded"  # a rejection is an answer, not a failure
    assert step_statuses(execution_id) == {"ask": "succeeded", "refund": "skipped", "apologise": "succeeded"}
    assert step_output(execution_id, "ask")["decision"] == "rejected"
    assert step_output(execution_id, "apologise") == {"note": "sorry: order was never paid"}
    assert "rejected by ada@example.com: order was never paid" in reasons(execution_id)


def test_role_assignee_is_decided_by_a_member_holding_the_role(parked, client, tokens):
    execution_id = parked(approval_flow("role:approver"))
    task = task_of(execution_id)
    assert (task.assignee_user_id, task.assignee_role) == (None, "approver")

    response = approve(client, tokens, execution_id, who="second_approver")

    assert response.status_code == 200, response.get_json()
    assert run(execution_id).status == "succeeded"
    assert step_output(execution_id, "ask")["decided_by"] == "alan@example.com"


@pytest.mark.parametrize(("assignee", "problem"), [
    ("nobody@example.com", "nobody@example.com is not a member of this workspace"),
    ("vic@example.com", "vic@example.com is a viewer, who cannot decide approvals"),
])
def test_assignee_who_cannot_decide_fails_the_step_with_a_clear_error(publish, assignee, problem):
    workflow = publish(approval_flow(assignee))
    execution, _ = ingest.start_execution(workflow, trigger_kind="manual", payload={"body": REFUND})

    final = run(execution.id)

    assert final.status == "failed"
    assert final.error_step == "ask"
    assert final.error.startswith(f"steps.ask.with.assignee: {problem}")
    assert step_statuses(execution.id) == {"ask": "failed"}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApprovalTask)) == 0


def test_a_stray_wake_up_of_a_pending_approval_parks_it_again(parked):
    execution_id = parked()

    again = run(execution_id)  # e.g. a duplicate job: it finds no decision and parks again

    assert (again.status, again.wake_at) == ("waiting", None)
    assert task_of(execution_id).status == "pending"  # still the one task
    assert step_statuses(execution_id) == {"ask": "waiting"}
    assert ScheduledJobRegistry(queue=dispatch.queue()).get_job_ids() == []


def test_an_overdue_approval_is_left_waiting_by_the_reaper(parked):
    execution_id = parked()
    task = task_of(execution_id)
    task.due_at = task.due_soon_at = utcnow() - timedelta(hours=1)
    db.session.commit()

    report = reap()

    assert (report.woken, report.requeued, report.reclaimed) == (0, 0, 0)
    db.session.expire_all()
    assert db.session.get(Execution, execution_id).status == "waiting"
    assert task_of(execution_id).status == "pending"


def test_cancelling_a_waiting_run_cancels_its_pending_task(parked, client, tokens):
    execution_id = parked()

    ingest.cancel_execution(db.session.get(Execution, execution_id))

    assert task_of(execution_id).status == "cancelled"
    late = approve(client, tokens, execution_id)
    assert late.status_code == 409
    assert late.get_json()["error"]["message"] == "this approval was already cancelled"


def test_a_retried_run_reuses_the_decision_instead_of_asking_again(parked, client, tokens):
    execution_id = parked()
    assert approve(client, tokens, execution_id).status_code == 200
    ingest.cancel_execution(db.session.get(Execution, execution_id))  # cancelled before a worker resumed it

    ingest.retry_execution(db.session.get(Execution, execution_id))
    final = run(execution_id)

    assert final.status == "succeeded"
    assert task_of(execution_id).status == "approved"  # one task, still the first round's
    assert step_output(execution_id, "ask")["decided_by"] == "ada@example.com"
    assert step_statuses(execution_id)["refund"] == "succeeded"


def test_a_run_cancelled_while_pending_asks_again_when_retried(parked):
    execution_id = parked()
    ingest.cancel_execution(db.session.get(Execution, execution_id))

    ingest.retry_execution(db.session.get(Execution, execution_id))
    again = run(execution_id)

    assert again.status == "waiting"
    db.session.expire_all()
    tasks = db.session.scalars(sa.select(ApprovalTask).where(ApprovalTask.execution_id == execution_id)
                               .order_by(ApprovalTask.round)).all()
    assert [(t.round, t.status) for t in tasks] == [(1, "cancelled"), (2, "pending")]
