"""The runs list (filtered by workflow, status and dates, newest first, paginated), a run's page with its
steps, payload and history, its JSON for live updates, and retry / cancel."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from flask import flash, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from automation import ingest
from automation.models import Execution, ExecutionStatus, StepRun, Workflow, WorkflowVersion, db
from automation.scoping import scoped
from automation.web.pages import pages, require_editor
from automation.web.pages.workflow_view import VIEW_HELPERS, found
from automation.web.serializers import execution_json

PER_PAGE = 25
STATUSES = tuple(s.value for s in ExecutionStatus)


@dataclass
class StepGroup:
    """A step's attempts, and for a loop its items' attempts by item index."""

    step_id: str
    attempts: list[StepRun]
    items: dict[int, list[StepRun]] = field(default_factory=dict)


@dataclass
class RunFilters:
    workflow_id: int | None = None
    status: str = ""
    since: date | None = None
    until: date | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)

    def args(self) -> dict[str, str]:
        """The filters as query arguments, for the pagination links."""
        values = {"workflow": self.workflow_id, "status": self.status, "from": self.since, "to": self.until}
        return {key: str(value) for key, value in values.items() if value}


@pages.get("/runs")
def runs() -> str:
    filters = _filters()
    query = scoped(Execution)
    if filters.workflow_id is not None:
        query = query.where(Execution.workflow_id == filters.workflow_id)
    if filters.status:
        query = query.where(Execution.status == filters.status)
    if filters.since is not None:
        query = query.where(Execution.created_at >= _start_of(filters.since))
    if filters.until is not None:
        query = query.where(Execution.created_at < _start_of(filters.until + timedelta(days=1)))
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    rows = db.session.execute(
        query.add_columns(Workflow.name).join(Workflow, Workflow.id == Execution.workflow_id)
        .order_by(Execution.id.desc()).limit(PER_PAGE).offset((page - 1) * PER_PAGE)
    ).all()
    choices = db.session.execute(
        scoped(Workflow).with_only_columns(Workflow.id, Workflow.name).order_by(sa.func.lower(Workflow.name))
    ).all()
    return render_template(
        "pages/runs.html", rows=rows, filters=filters, page=page, total=total,
        workflow_options=[("", "All workflows"), *((str(i), name) for i, name in choices)],
        status_options=[("", "Any status"), *((s, s) for s in STATUSES)],
        has_next=page * PER_PAGE < total, per_page=PER_PAGE, **VIEW_HELPERS,
    )


def _filters() -> RunFilters:
    args, filters = request.args, RunFilters()
    workflow_id = args.get("workflow", "")
    if workflow_id:
        filters.workflow_id = found(Workflow, workflow_id, "workflow").id
    status = args.get("status", "")
    if status in STATUSES:
        filters.status = status
    elif status:
        filters.errors["status"] = [f"choose one of {', '.join(STATUSES)}"]
    for name, attribute in (("from", "since"), ("to", "until")):
        text = args.get(name, "")
        if not text:
            continue
        try:
            setattr(filters, attribute, date.fromisoformat(text))
        except ValueError:
            filters.errors[name] = ["a date such as 2025-03-31"]
    return filters


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


@pages.get("/runs/<int:execution_id>")
def run(execution_id: int) -> str:
    execution = found(Execution, execution_id, "run")
    workflow = db.session.get(Workflow, execution.workflow_id)
    version = db.session.get(WorkflowVersion, execution.version_id)
    template = "pages/_run_live.html" if request.args.get("fragment") else "pages/run.html"
    return render_template(
        template, execution=execution, workflow=workflow, version=version, groups=_groups(execution),
        finished=ExecutionStatus(execution.status).finished, **VIEW_HELPERS,
    )


@pages.get("/runs/<int:execution_id>.json")
def run_json(execution_id: int) -> Response:
    """The run as the API shows it, for the page's live updates (session-authenticated)."""
    return jsonify(execution_json(found(Execution, execution_id, "run")))


@pages.post("/runs/<int:execution_id>/retry")
def run_retry(execution_id: int) -> Response:
    return _change(execution_id, ingest.retry_execution, "Retrying: the run goes on from the step that stopped it.")


@pages.post("/runs/<int:execution_id>/cancel")
def run_cancel(execution_id: int) -> Response:
    return _change(execution_id, ingest.cancel_execution, "Cancelled: nothing more runs.")


def _change(execution_id: int, change: Callable[[Execution], Execution], done: str) -> Response:
    require_editor()
    execution = found(Execution, execution_id, "run")
    try:
        change(execution)
    except ingest.NotRunnable as exc:
        flash(str(exc), "error")
    else:
        flash(done, "success")
    return redirect(url_for("pages.run", execution_id=execution.id))


def _groups(execution: Execution) -> list[StepGroup]:
    """Attempts by step in the order the steps first ran; a loop's item attempts under the loop step."""
    steps = db.session.scalars(
        sa.select(StepRun).where(StepRun.execution_id == execution.id).order_by(StepRun.id)
    ).all()
    groups: dict[str, StepGroup] = {}
    for step in steps:
        if step.parent_step_id is None:
            groups.setdefault(step.step_id, StepGroup(step.step_id, [])).attempts.append(step)
    for step in steps:
        if step.parent_step_id is not None:
            parent = groups.setdefault(step.parent_step_id, StepGroup(step.parent_step_id, []))
            parent.items.setdefault(step.item_index or 0, []).append(step)
    for group in groups.values():
        group.items = dict(sorted(group.items.items()))
    return list(groups.values())
