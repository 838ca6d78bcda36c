"""The analytics page: a window of days (default the last 30) and optionally one workflow, the workspace's
totals, a table of every workflow's figures, and charts of runs per day and of run durations — the same
numbers as ``GET /api/v1/analytics`` (automation/analytics.py computes both)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import g, render_template, request

from automation import analytics
from automation.models import Workflow, db, utcnow
from automation.scoping import scoped
from automation.web.pages import pages
from automation.web.pages.analytics_charts import SERIES, duration_chart, outcome_chart, seconds_text
from automation.web.pages.workflow_view import found


@pages.get("/analytics", endpoint="analytics")
def analytics_page() -> tuple[str, int]:
    """A bad date shows next to its field (400) with the default window's figures below it."""
    now = utcnow()
    errors: dict[str, list[str]] = {}
    try:
        window = analytics.parse_window(request.args, now.date())
    except analytics.WindowError as exc:
        errors[exc.parameter] = [exc.message]
        window = analytics.parse_window({}, now.date())
    text = request.args.get("workflow", "").strip()
    if text:
        window = analytics.Window(window.first, window.last, found(Workflow, text, "workflow").id)
    report = analytics.report(g.identity.workspace_id, window, now)
    choices = db.session.execute(
        scoped(Workflow).with_only_columns(Workflow.id, Workflow.name).order_by(sa.func.lower(Workflow.name))
    ).all()
    args: dict[str, Any] = {name: request.args.get(name, "") for name in ("from", "to")} if errors else {
        "from": window.first.isoformat(), "to": window.last.isoformat()}
    page = render_template(
        "pages/analytics.html", report=report, errors=errors, args=args, workflow_id=window.workflow_id or "",
        workflow_options=[("", "All workflows"), *((str(i), name) for i, name in choices)],
        runs_chart=outcome_chart(report.runs_per_day), durations=duration_chart(report.duration_per_day),
        series=SERIES, seconds=seconds_text, percent=percent,
    )
    return page, 400 if errors else 200


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:g}%"
