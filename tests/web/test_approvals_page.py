"""The approvals inbox page: my pending tasks by urgency with hours remaining, the all-pending and decided
tabs, and the approve / reject / delegate forms — who may use them (approvers yes, viewers 403), errors next
to their field, and a lost race shown as a message."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from automation import workflows
from automation.accounts import default_workspace
from automation.models import ApprovalTask, Execution, User, Workspace, db, utcnow
from tests.web.conftest import field_error, rows, submit

pytestmark = pytest.mark.storage
DEFINITION = {"trigger": {"type": "manual"}, "steps": [{"id": "a", "uses": "core.set", "with": {"x": 1}}]}


def add_task(app, title: str, *, due_in: timedelta | None = None, assignee: str = "role:approver",
             status: str = "pending", workspace: str | None = None) -> int:
    """A waiting run of a "Refunds" workflow with one task; ``due_in`` is the time left (negative: overdue)."""
    def create() -> int:
        space = db.session.scalar(sa.select(Workspace).where(Workspace.name == workspace)) if workspace \
            else default_workspace()
        workflow = db.session.scalar(sa.select(workflows.Workflow).where(
            workflows.Workflow.workspace_id == space.id, workflows.Workflow.name == "Refunds")) \
            or workflows.create_workflow(space.id, "Refunds", DEFINITION)
        execution = Execution(workspace_id=space.id, workflow_id=workflow.id, version_id=workflow.versions[-1].id,
                              status="waiting", trigger_kind="manual", correlation_id=f"c-{title}")
        db.session.add(execution)
        db.session.flush()
        now, sla = utcnow(), timedelta(hours=10)
        user = db.session.scalar(sa.select(User).where(User.email == assignee))
        task = ApprovalTask(
            workspace_id=space.id, execution_id=execution.id, step_id="ask", title=title, details=f"About {title}",
            assignee_user_id=user.id if user else None, assignee_role=None if user else assignee.removeprefix("role:"),
            status=status, created_at=now - timedelta(hours=1),
            due_at=now + due_in if due_in is not None else None,
            # The last fifth of a 10-hour SLA: due soon from 2 hours before the due time.
            due_soon_at=now + due_in - sla / 5 if due_in is not None else None,
            decided_at=now if status != "pending" else None,
        )
        db.session.add(task)
        db.session.commit()
        return task.id
    return rows(app, create)


def task(app, task_id: int) -> tuple[str, str, str | None, str]:
    def read() -> tuple[str, str, str | None, str]:
        found = db.session.get(ApprovalTask, task_id)
        assignee = db.session.get(User, found.assignee_user_id).email if found.assignee_user_id else found.assignee_role
        return found.status, assignee, found.comment, db.session.get(Execution, found.execution_id).status
    return rows(app, read)


def listed(page: str) -> list[tuple[str, str]]:
    """(title, hours text) of the tasks on the page, in order."""
    return [(title, hours) for title, hours in re.findall(
        r'<h2 id="task-\d+">([^<]+)</h2>.*?(?:<span class="hours"[^>]*>([^<]*)</span>|</div>)', page, re.S)]


@pytest.fixture
def approver(sign_in):
    owner = sign_in("owner")
    return owner, sign_in("approver")


def test_my_pending_tasks_are_listed_by_urgency_with_the_hours_remaining(app, approver):
    _, client = approver
    add_task(app, "Normal", due_in=timedelta(hours=9))
    add_task(app, "No SLA")
    add_task(app, "Overdue", due_in=timedelta(hours=-2))
    add_task(app, "Due soon", due_in=timedelta(hours=1))
    add_task(app, "For the owners", assignee="role:owner", due_in=timedelta(hours=-5))
    add_task(app, "Decided", status="approved")
    page = client.get("/approvals").get_data(as_text=True)
    assert listed(page) == [("Overdue", "2 hours overdue"), ("Due soon", "1 hour left"),
                            ("Normal", "9 hours left"), ("No SLA", "")]
    assert re.findall(r'data-urgency="(\w*)"', page) == ["overdue", "due_soon", "normal", "normal"]
    assert "About Overdue" in page and re.search(r'href="/runs/\d+">#\d+</a>', page)
    assert 'aria-current="page">Approvals<' in page


def test_the_api_and_the_page_agree_on_the_order(app, approver):
    _, client = approver
    for title, hours in (("B", 5), ("A", -1), ("C", 1.5)):
        add_task(app, title, due_in=timedelta(hours=hours))
    page = client.get("/approvals").get_data(as_text=True)
    assert [t for t, _ in listed(page)] == ["A", "C", "B"]


def test_the_all_and_decided_tabs(app, approver):
    _, client = approver
    add_task(app, "Mine", due_in=timedelta(hours=5))
    add_task(app, "Owners", assignee="role:owner", due_in=timedelta(hours=-5))
    add_task(app, "Done", status="rejected")
    everything = client.get("/approvals?view=all").get_data(as_text=True)
    assert [t for t, _ in listed(everything)] == ["Owners", "Mine"]
    assert everything.count('class="decide"') == 1  # an approver may decide only what is addressed to them
    decided = client.get("/approvals?view=decided").get_data(as_text=True)
    assert [t for t, _ in listed(decided)] == ["Done"]
    assert 'class="decide"' not in decided


def test_an_approver_approves_with_the_form(app, approver):
    _, client = approver
    task_id = add_task(app, "Refund", due_in=timedelta(hours=5))
    response = submit(client, f"/approvals/{task_id}/approve", {"comment": "fine", "view": "mine"},
                      form_path="/approvals")
    assert response.status_code == 302 and response.location.endswith("/approvals?view=mine")
    assert task(app, task_id) == ("approved", "approver", "fine", "queued")
    page = client.get("/approvals").get_data(as_text=True)
    assert "Approved: “Refund”. The run goes on." in page and "Nothing is waiting for you." in page


def test_a_rejection_needs_a_comment_shown_next_to_the_field(app, approver):
    _, client = approver
    task_id = add_task(app, "Refund", due_in=timedelta(hours=5))
    response = submit(client, f"/approvals/{task_id}/reject", {"comment": "  "}, form_path="/approvals")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert field_error(page, f"comment-{task_id}") == "a rejection needs a comment saying why"
    assert task(app, task_id)[0] == "pending"
    response = submit(client, f"/approvals/{task_id}/reject", {"comment": "never paid"}, form_path="/approvals")
    assert response.status_code == 302
    assert task(app, task_id) == ("rejected", "approver", "never paid", "queued")


def test_delegating_to_a_member_and_to_a_stranger(app, approver, sign_in):
    _, client = approver
    sign_in("editor")
    task_id = add_task(app, "Refund", due_in=timedelta(hours=5))
    response = submit(client, f"/approvals/{task_id}/delegate", {"to": "nobody@example.com"}, form_path="/approvals")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "not a member of this workspace" in field_error(page, f"to-{task_id}")
    assert 'value="nobody@example.com"' in page
    response = submit(client, f"/approvals/{task_id}/delegate", {"to": "Editor@example.com"}, form_path="/approvals")
    assert response.status_code == 302
    assert task(app, task_id) == ("pending", "editor@example.com", None, "waiting")


def test_a_viewer_sees_no_forms_and_cannot_post_them(app, sign_in):
    sign_in("owner")
    viewer = sign_in("viewer")
    task_id = add_task(app, "Refund", due_in=timedelta(hours=5))
    page = viewer.get("/approvals?view=all").get_data(as_text=True)
    assert "Refund" in page and 'class="decide"' not in page
    for action, data in (("approve", {}), ("reject", {"comment": "no"}), ("delegate", {"to": "owner@example.com"})):
        response = submit(viewer, f"/approvals/{task_id}/{action}", data, form_path="/approvals")
        assert response.status_code == 403, action
    assert task(app, task_id)[0] == "pending"


def test_someone_elses_task_is_403_and_another_workspaces_404(app, approver, sign_in):
    _, client = approver
    editor = sign_in("editor")
    task_id = add_task(app, "Refund", due_in=timedelta(hours=5))
    assert submit(editor, f"/approvals/{task_id}/approve", {}, form_path="/approvals").status_code == 403
    rows(app, lambda: db.session.add(Workspace(name="Other")) or db.session.commit())
    theirs = add_task(app, "Theirs", workspace="Other")
    assert submit(client, f"/approvals/{theirs}/approve", {}, form_path="/approvals").status_code == 404


def test_the_second_of_two_decisions_gets_a_message_not_an_error_page(app, approver, sign_in):
    owner, client = approver
    task_id = add_task(app, "Refund", due_in=timedelta(hours=5))
    first = submit(client, f"/approvals/{task_id}/approve", {}, form_path="/approvals")
    second = submit(owner, f"/approvals/{task_id}/reject", {"comment": "too late", "view": "all"},
                    form_path="/approvals")
    assert first.status_code == 302 and second.status_code == 302
    page = owner.get(second.location).get_data(as_text=True)
    assert "Nothing changed: this approval was already approved." in page
    assert task(app, task_id) == ("approved", "approver", None, "queued")
