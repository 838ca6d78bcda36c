"""The workflows list and a workflow's page: status and its buttons (publish, pause, resume), the trigger in
words, problems, the steps as a flow, run now, versions with restore, recent runs and a chart of runs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import current_app, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from automation import ingest, workflows
from automation.definitions import DefinitionError
from automation.models import Execution, User, Workflow, WorkflowVersion, db
from automation.scoping import scoped
from automation.web.pages import pages, require_editor
from automation.web.pages.charts import runs_chart
from automation.web.pages.workflow_view import (
    VIEW_HELPERS,
    found,
    step_flow,
    trigger_kind,
    trigger_words,
)
from automation.web.serializers import workflow_json, workflows_json
from automation.workflow_checks import version_problems

RECENT_RUNS = 10
SAMPLE_BODY = '{"name": "Ada Lovelace", "email": "ada@example.com"}'


@pages.get("/workflows", endpoint="workflows")
def workflows_list() -> str:
    """Every workflow of the workspace with its status, its trigger in words and its last run."""
    rows = list(db.session.scalars(scoped(Workflow).order_by(sa.func.lower(Workflow.name), Workflow.id)))
    items = workflows_json(rows)
    last_ids = db.session.scalars(
        sa.select(sa.func.max(Execution.id)).where(Execution.workflow_id.in_([w.id for w in rows]))
        .group_by(Execution.workflow_id)
    ).all() if rows else []
    last_runs = {e.workflow_id: e for e in db.session.scalars(sa.select(Execution).where(Execution.id.in_(last_ids)))}
    for item in items:
        # The schedule that fires is the published version's (serializers pick it); otherwise the latest's trigger.
        item["trigger_words"] = item["schedule"]["description"] if "schedule" in item \
            else trigger_words(item["definition"])
        item["last_run"] = last_runs.get(item["id"])
    return render_template("pages/workflows.html", workflows=items,
                           has_gallery="pages.gallery" in current_app.view_functions, **VIEW_HELPERS)



@pages.get("/workflows/<workflow_id>")
def workflow(workflow_id: str) -> tuple[str, int]:
    return _render_workflow(found(Workflow, workflow_id, "workflow"))


def _render_workflow(row: Workflow, payload: str = "", payload_errors: tuple[str, ...] = (),
                     status: int = 200) -> tuple[str, int]:
    data = workflow_json(row)
    published = row.current_version
    shown = published.definition if published else data["definition"]
    problems = version_problems(row.workspace_id, published.definition, published.params or {}) if published else []
    versions = db.session.execute(
        sa.select(WorkflowVersion, User.email).outerjoin(User, User.id == WorkflowVersion.author_id)
        .where(WorkflowVersion.workflow_id == row.id).order_by(WorkflowVersion.number.desc())
    ).all()
    runs = db.session.scalars(
        sa.select(Execution).where(Execution.workflow_id == row.id).order_by(Execution.id.desc()).limit(RECENT_RUNS)
    ).all()
    page = render_template(
        "pages/workflow.html", workflow=row, data=data, kind=trigger_kind(shown), trigger_words=trigger_words(shown),
        steps=step_flow(shown.get("steps")), problems=problems, versions=versions, runs=runs,
        chart=runs_chart(row.id), payload=payload, payload_errors=payload_errors, sample_body=SAMPLE_BODY,
        **VIEW_HELPERS,
    )
    return page, status


@pages.post("/workflows/<workflow_id>/publish")
def workflow_publish(workflow_id: str) -> Response:
    return _change(workflow_id, workflows.publish, "Published: new runs use the latest version.")


@pages.post("/workflows/<workflow_id>/pause")
def workflow_pause(workflow_id: str) -> Response:
    return _change(workflow_id, workflows.pause, "Paused: it will not run until you resume it.")


@pages.post("/workflows/<workflow_id>/resume")
def workflow_resume(workflow_id: str) -> Response:
    return _change(workflow_id, workflows.resume, "Resumed: it runs again.")


@pages.post("/workflows/<workflow_id>/versions/<int:number>/publish")
def workflow_restore(workflow_id: str, number: int) -> Response:
    return _change(workflow_id, lambda w, actor_id: workflows.publish(w, number, actor_id=actor_id),
                   f"Version {number} is published again: new runs use it.")


@pages.post("/workflows/<workflow_id>/hook-token")
def workflow_rotate_hook(workflow_id: str) -> Response:
    return _change(workflow_id, lambda w, actor_id: workflows.rotate_hook_token(w),
                   "The webhook has a new URL; the old one no longer works. Update the systems that call it.")


def _change(workflow_id: str, change: Callable[..., Workflow], done: str) -> Response:
    """Apply ``change(workflow, actor_id=...)`` for the signed-in editor and say how it went."""
    require_editor()
    row = found(Workflow, workflow_id, "workflow")
    try:
        change(row, actor_id=g.identity.user_id)
    except (workflows.LifecycleError, LookupError) as exc:
        flash(str(exc), "error")
    except DefinitionError as exc:
        flash("It cannot be published: " + "; ".join(str(p) for p in exc.problems[:5]), "error")
    else:
        flash(done, "success")
    return redirect(url_for("pages.workflow", workflow_id=row.id))


@pages.post("/workflows/<workflow_id>/run")
def workflow_run(workflow_id: str) -> Response | tuple[str, int]:
    """Run now; the optional test payload (a JSON object) becomes ``trigger.body``."""
    require_editor()
    row = found(Workflow, workflow_id, "workflow")
    text = request.form.get("payload", "")
    body, error = _payload(text)
    if error is None:
        try:
            execution, _ = ingest.start_execution(row, trigger_kind="manual", payload=ingest.manual_payload(row, body))
        except ingest.NotRunnable as exc:
            error = str(exc)
        else:
            flash(f"Run {execution.id} started.", "success")
            return redirect(url_for("pages.run", execution_id=execution.id))
    return _render_workflow(row, payload=text, payload_errors=(error,), status=422)


def _payload(text: str) -> tuple[dict[str, Any], str | None]:
    if not text.strip():
        return {}, None
    try:
        value = json.loads(text)
    except ValueError as exc:
        return {}, f"this is not valid JSON: {exc}"
    if not isinstance(value, dict):
        return {}, 'the test payload must be a JSON object, such as {"name": "Ada"}'
    return value, None
