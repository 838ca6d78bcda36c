"""REST API v1, schedules: a schedule in words with its next fire times, for a form's live preview."""

from __future__ import annotations

from flask import Response, jsonify, request

from automation.definitions import schedule_problems
from automation.schedules import schedule_of
from automation.web.api import api
from automation.web.errors import ApiError
from automation.web.serializers import schedule_json

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
