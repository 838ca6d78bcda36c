"""REST API v1, analytics: ``GET /api/v1/analytics?from=&to=&workflow_id=`` — per-workflow run, duration
and approval figures for a window of whole UTC days (default: the last 30), as automation/analytics.py
computes them."""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify, request

from automation import analytics
from automation.models import Workflow, utcnow
from automation.scoping import get_or_404
from automation.web.api import api
from automation.web.errors import ApiError


@api.get("/analytics")
def get_analytics() -> Response:
    """400 for a date that is not ISO or ``from`` after ``to``; 404 for a workflow of another workspace."""
    now = utcnow()
    try:
        window = analytics.parse_window(request.args, now.date())
    except analytics.WindowError as exc:
        raise ApiError(400, exc.message, details={"parameter": exc.parameter}) from None
    text = (request.args.get("workflow_id") or "").strip()
    if text:
        if not text.isdigit():
            raise ApiError(400, "query parameter 'workflow_id' must be a workflow's id",
                           details={"parameter": "workflow_id"})
        window = analytics.Window(window.first, window.last, get_or_404(Workflow, text, "workflow").id)
    return jsonify(report_json(analytics.report(g.identity.workspace_id, window, now)))


def report_json(report: analytics.Report) -> dict[str, Any]:
    window = report.window
    return {
        "from": window.first.isoformat(),
        "to": window.last.isoformat(),
        "workflow_id": window.workflow_id,
        "percentile_method": "nearest-rank",
        "workflows": [f.as_json() for f in report.workflows],
        "totals": report.totals.as_json(),
        "runs_per_day": [{"day": day.isoformat(), **counts} for day, counts in report.runs_per_day.items()],
        "duration_per_day": [{"day": day.isoformat(), "median_seconds": median, "p95_seconds": p95}
                             for day, (median, p95) in report.duration_per_day.items()],
    }
