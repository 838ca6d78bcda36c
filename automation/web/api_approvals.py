"""REST API v1, approvals: the list (an inbox ordered by urgency), one task, and the decisions on it —
approve, reject (with a comment), delegate — each a compare-and-set whose lost races answer 409."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import Response, g, jsonify, request, url_for

from automation import approval_inbox, approvals
from automation.models import ApprovalStatus, ApprovalTask, Execution, User, Workflow, db, utcnow
from automation.scoping import get_or_404, scoped
from automation.web.api import api
from automation.web.auth import decision
from automation.web.errors import ApiError
from automation.web.request_input import json_object, page_args
from automation.web.serializers import absolute_url, iso

STATUSES = tuple(s.value for s in ApprovalStatus)


@api.get("/approvals")
def list_approvals() -> Response:
    """``?status=pending&assignee=me``: most urgent first (overdue, due soon, normal), then by due time."""
    query = scoped(ApprovalTask)
    status = request.args.get("status")
    if status:
        if status not in STATUSES:
            raise ApiError(400, f"query parameter 'status' must be one of {', '.join(STATUSES)}",
                           details={"parameter": "status"})
        query = query.where(ApprovalTask.status == status)
    assignee = request.args.get("assignee")
    if assignee:
        if assignee != "me":
            raise ApiError(400, "query parameter 'assignee' must be 'me'", details={"parameter": "assignee"})
        query = query.where(approval_inbox.addressed_to(g.identity.user_id, g.identity.role))
    page, per_page = page_args()
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    now = utcnow()
    rows = db.session.scalars(
        query.order_by(approval_inbox.urgency_order(now), ApprovalTask.due_at.asc().nulls_last(), ApprovalTask.id)
        .limit(per_page).offset((page - 1) * per_page)
    ).all()
    return jsonify(items=tasks_json(list(rows), now), page=page, per_page=per_page, total=total,
                   next=page + 1 if page * per_page < total else None)


@api.get("/approvals/<task_id>")
def get_approval(task_id: str) -> Response:
    return jsonify(tasks_json([get_or_404(ApprovalTask, task_id, "approval")], utcnow())[0])


@api.post("/approvals/<task_id>/approve")
@decision
def approve(task_id: str) -> Response:
    """``{"comment": "..."}`` (optional)."""
    return _decide(task_id, ApprovalStatus.APPROVED)


@api.post("/approvals/<task_id>/reject")
@decision
def reject(task_id: str) -> Response:
    """``{"comment": "why"}`` (required)."""
    return _decide(task_id, ApprovalStatus.REJECTED)


@api.post("/approvals/<task_id>/delegate")
@decision
def delegate(task_id: str) -> Response:
    """``{"to": "bob@example.com", "comment": "..."}``: the task moves to that member."""
    task = get_or_404(ApprovalTask, task_id, "approval")
    body = _body(frozenset({"to", "comment"}))
    if "to" not in body:
        raise ApiError(422, "'to' is required: the email of the member to delegate to",
                       details=[{"path": "to", "message": "required"}])
    try:
        approvals.delegate(task, _actor(), body["to"], body.get("comment"))
    except approvals.DecisionError as exc:
        raise _refused(exc, "to") from None
    return jsonify(tasks_json([task], utcnow())[0])


def _decide(task_id: str, outcome: ApprovalStatus) -> Response:
    task = get_or_404(ApprovalTask, task_id, "approval")
    body = _body(frozenset({"comment"}))
    try:
        approvals.decide(task, _actor(), outcome, body.get("comment"))
    except approvals.DecisionError as exc:
        raise _refused(exc, "comment") from None
    return jsonify(tasks_json([task], utcnow())[0])


def _body(allowed: frozenset[str]) -> dict[str, Any]:
    body = json_object(allow_empty=True)
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(400, f"unknown field(s): {', '.join(unknown)}", details={"fields": unknown})
    for key in allowed & set(body):
        if body[key] is not None and not isinstance(body[key], str):
            raise ApiError(400, f"'{key}' must be a string")
    return body


def _actor() -> approvals.Actor:
    user = db.session.get(User, g.identity.user_id)
    assert user is not None  # the token was just authenticated against this user
    return approvals.Actor(user=user, role=g.identity.role, ip=request.remote_addr)


def _refused(exc: approvals.DecisionError, field: str) -> ApiError:
    if isinstance(exc, approvals.NotAllowed):
        return ApiError(403, str(exc))
    if isinstance(exc, approvals.Conflict):
        return ApiError(409, str(exc))
    return ApiError(422, str(exc), details=[{"path": field, "message": str(exc)}])


def tasks_json(tasks: list[ApprovalTask], now: datetime) -> list[dict[str, Any]]:
    """Tasks as the API shows them, with the people and workflows of the whole list loaded in two queries."""
    user_ids = {i for t in tasks for i in (t.assignee_user_id, t.decided_by_id) if i is not None}
    emails = {
        user_id: email
        for user_id, email in db.session.execute(sa.select(User.id, User.email).where(User.id.in_(user_ids)))
    } if user_ids else {}
    workflows = {
        execution_id: {"id": workflow_id, "name": name}
        for execution_id, workflow_id, name in db.session.execute(
            sa.select(Execution.id, Workflow.id, Workflow.name).join(Workflow, Workflow.id == Execution.workflow_id)
            .where(Execution.id.in_({t.execution_id for t in tasks}))
        )
    } if tasks else {}
    return [
        {
            "id": t.id,
            "title": t.title,
            "details": t.details,
            "status": t.status,
            "assignee": approval_inbox.assignee_label(t, emails),
            "created_at": iso(t.created_at),
            "due_at": iso(t.due_at),
            "hours_remaining": approval_inbox.hours_remaining(t, now),
            "urgency": approval_inbox.urgency(t, now),
            "remind_every_seconds": t.remind_every_seconds,
            "escalate_to": t.escalate_to,
            "decided_by": emails.get(t.decided_by_id) if t.decided_by_id else None,
            "comment": t.comment,
            "decided_at": iso(t.decided_at),
            "execution_id": t.execution_id,
            "step_id": t.step_id,
            "workflow": workflows.get(t.execution_id),
            "url": absolute_url(url_for("api.get_approval", task_id=t.id)),
        }
        for t in tasks
    ]
