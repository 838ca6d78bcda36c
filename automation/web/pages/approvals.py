"""The approvals inbox: my pending tasks by urgency (the API's order and hours remaining, from
approval_inbox), all pending tasks of the workspace, and recently decided ones; and the forms to approve,
reject (with a comment) and delegate, which call automation.approvals with the same rule as the API.

Deciding is not editing: approvers decide without the editor role, viewers never (403). A lost race (someone
decided or delegated first) comes back as a message on the inbox, not as an error page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from automation import approval_inbox, approvals
from automation.models import ApprovalStatus, ApprovalTask, User, db, utcnow
from automation.scoping import scoped
from automation.web.api_approvals import tasks_json
from automation.web.pages import pages
from automation.web.pages.workflow_view import VIEW_HELPERS, found

VIEWS = {"mine": "Assigned to me", "all": "All pending", "decided": "Recently decided"}
SHOWN = 100


@dataclass(frozen=True)
class Refusal:
    """A form sent back with an error next to its field, and what was typed."""

    task_id: int
    form: str
    field: str
    message: str
    values: dict[str, str] = field(default_factory=dict)


@pages.get("/approvals", endpoint="approvals")
def approvals_inbox() -> Any:
    return _render()


def _render(refusal: Refusal | None = None, status: int = 200) -> Any:
    view = request.values.get("view", "mine")
    view = view if view in VIEWS else "mine"
    now = utcnow()
    query = scoped(ApprovalTask)
    if view == "decided":
        query = query.where(ApprovalTask.status.in_([s.value for s in approvals.DECIDED])).order_by(
            ApprovalTask.decided_at.desc(), ApprovalTask.id.desc())
    else:
        query = query.where(ApprovalTask.status == ApprovalStatus.PENDING.value)
        if view == "mine":
            query = query.where(approval_inbox.addressed_to(g.identity.user_id, g.identity.role))
        query = query.order_by(approval_inbox.urgency_order(now), ApprovalTask.due_at.asc().nulls_last(),
                               ApprovalTask.id)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery())) or 0
    tasks = list(db.session.scalars(query.limit(SHOWN)))
    decidable = {t.id for t in tasks if approvals.may_decide(t, g.identity.user_id, g.identity.role)}
    page = render_template(
        "pages/approvals.html", view=view, views=VIEWS, items=tasks_json(tasks, now), total=total, shown=SHOWN,
        decidable=decidable, refusal=refusal, hours=hours_left, **VIEW_HELPERS,
    )
    return page, status


@pages.post("/approvals/<task_id>/approve")
def approval_approve(task_id: str) -> Any:
    return _decide(task_id, ApprovalStatus.APPROVED)


@pages.post("/approvals/<task_id>/reject")
def approval_reject(task_id: str) -> Any:
    return _decide(task_id, ApprovalStatus.REJECTED)


@pages.post("/approvals/<task_id>/delegate")
def approval_delegate(task_id: str) -> Any:
    task, actor = _task_and_actor(task_id)
    to = request.form.get("to", "").strip()
    if not to:
        return _render(Refusal(task.id, "delegate", "to", "required: the email of the member to delegate to"), 422)
    try:
        approvals.delegate(task, actor, to, request.form.get("comment"))
    except approvals.BadDecision as exc:
        return _render(Refusal(task.id, "delegate", "to", str(exc), {"to": to}), 422)
    except approvals.DecisionError as exc:
        return _refused(exc)
    flash(f"Delegated “{task.title}” to {to.lower()}.", "success")
    return _back()


def _decide(task_id: str, decision: ApprovalStatus) -> Any:
    task, actor = _task_and_actor(task_id)
    comment = request.form.get("comment", "")
    try:
        approvals.decide(task, actor, decision, comment)
    except approvals.BadDecision as exc:
        return _render(Refusal(task.id, "decide", "comment", str(exc), {"comment": comment}), 422)
    except approvals.DecisionError as exc:
        return _refused(exc)
    flash(f"{decision.value.capitalize()}: “{task.title}”. The run goes on.", "success")
    return _back()


def _task_and_actor(task_id: str) -> tuple[ApprovalTask, approvals.Actor]:
    """The task (404 for another workspace's) and who is deciding; viewers are refused before anything else."""
    if g.identity.role not in approvals.DECIDERS:
        abort(403, description=f"a {g.identity.role.value} cannot decide approvals; ask an owner for the approver role")
    task = found(ApprovalTask, task_id, "approval")
    user = db.session.get(User, g.identity.user_id)
    assert user is not None  # the session guard just found this user's membership
    return task, approvals.Actor(user=user, role=g.identity.role, ip=request.remote_addr)


def _refused(exc: approvals.DecisionError) -> Response:
    if isinstance(exc, approvals.NotAllowed):
        abort(403, description=str(exc))
    # Someone got there first: say so on the inbox, where the task now shows as it is.
    flash(f"Nothing changed: {exc}.", "error")
    return _back()


def _back() -> Response:
    view = request.form.get("view", "mine")
    return redirect(url_for("pages.approvals", view=view if view in VIEWS else "mine"))


def hours_left(hours: float | None) -> str:
    """``3.5`` → "3.5 hours left", ``-2`` → "2 hours overdue"; "" without an SLA."""
    if hours is None:
        return ""
    amount = f"{abs(hours):g}"
    unit = "hour" if abs(hours) == 1 else "hours"
    return f"{amount} {unit} overdue" if hours < 0 else f"{amount} {unit} left"

