"""REST API v1, schedules: a schedule in words with its next fire times (a form's live preview), and a
workflow's fire history."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Response, jsonify, request

from automation.definitions import schedule_problems
from automation.models import FireStatus, ScheduleFire, Workflow, db
from automation.schedules import schedule_of
from automation.scoping import get_or_404, scoped
from automation.web.api import api
from automation.web.errors import ApiError
from automation.web.request_input import page_args
from automation.web.serializers import iso, schedule_json

SCHEDULE_ARGS = ("cron", "every", "timezone")


@api.get("/schedules/describe")
def describe_schedule() -> Response:
    """``?cron=0 9 * * MON-FRI&timezone=Europe/Berlin`` or ``?every=15m``: the words and the next five runs."""
    unknown = sorted(set(request.args) - set(SCHEDULE_ARGS))
    if unknown:
        raise ApiError(400, f"unknown query parameter(s): {', '.join(unknown)}; use cron, every and timezone")
    spec = {name: request.args[name] for name in SCHEDULE_ARGS if name in request.args}
    problems = schedule_problems(spec)
    if problems:
        raise ApiError(
            422, "the schedule is not valid: " + "; ".join(p.message for p in problems),
            details=[{"path": p.path.removeprefix("trigger.schedule").lstrip(".") or "schedule", "message": p.message}
                     for p in problems],
        )
    schedule = schedule_of({"trigger": {"type": "schedule", "schedule": spec}})
    assert schedule is not None, "a valid schedule spec always gives a schedule"
    return jsonify(schedule_json(schedule))


@api.get("/workflows/<workflow_id>/fires")
def list_fires(workflow_id: str) -> Response:
    """What happened at each fire time, newest first: ``?status=fired|skipped|pending``, paginated."""
    workflow = get_or_404(Workflow, workflow_id, "workflow")
    page, per_page = page_args()
    query = scoped(ScheduleFire).where(ScheduleFire.workflow_id == workflow.id)
    status = request.args.get("status")
    if status is not None:
        if status not in {s.value for s in FireStatus}:
            raise ApiError(400, f"status must be one of {', '.join(s.value for s in FireStatus)}",
                           details={"parameter": "status"})
        query = query.where(ScheduleFire.status == status)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(
        query.order_by(ScheduleFire.scheduled_for.desc()).limit(per_page).offset((page - 1) * per_page)
    )
    return jsonify(items=[fire_json(f) for f in rows], page=page, per_page=per_page, total=total,
                   next=page + 1 if page * per_page < total else None)


def fire_json(fire: ScheduleFire) -> dict[str, object]:
    return {
        "scheduled_for": iso(fire.scheduled_for),
        "covers_from": iso(fire.covers_from),
        "missed_count": fire.missed_count,
        "status": fire.status,
        "fired_at": iso(fire.fired_at),
        "execution_id": fire.execution_id,
        "reason": fire.reason,
    }
