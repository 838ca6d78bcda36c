"""JSON shapes of workflows and executions, shared by the API views (and later the pages)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app, request

from automation.models import Execution, ExecutionEvent, StepRun, Workflow, WorkflowVersion, db, utcnow
from automation.schedules import Schedule, describe, schedule_of, upcoming
from automation.workflows import latest_version


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def absolute_url(path: str) -> str:
    """``path`` under ``RELAY_BASE_URL`` (behind a proxy the request's own host may not be the public one)."""
    base = current_app.config.get("RELAY_BASE_URL") or request.host_url
    return f"{base.rstrip('/')}/{path.lstrip('/')}"


def webhook_url(workflow: Workflow) -> str:
    return absolute_url(f"hooks/{workflow.hook_token}")


def workflow_json(workflow: Workflow, versions: dict[int, WorkflowVersion] | None = None) -> dict[str, Any]:
    """``versions`` (by id) may hold the workflow's latest and published versions, loaded for a whole page."""
    versions = versions or {}
    latest = next((v for v in versions.values()
                   if v.workflow_id == workflow.id and v.number == workflow.latest_version_number), None)
    latest = latest or latest_version(workflow)
    published = None
    if workflow.current_version_id:
        published = versions.get(workflow.current_version_id) or db.session.get(
            WorkflowVersion, workflow.current_version_id)
    data: dict[str, Any] = {
        "id": workflow.id,
        "name": workflow.name,
        "status": workflow.status,
        "version": latest.number,
        "published_version": published.number if published else None,
        "definition": latest.definition,
        "params": latest.params,
        "template": workflow.template_key,
        # None: finished runs are kept for RELAY_RETENTION_DAYS.
        "retention_days": workflow.retention_days,
        "created_at": iso(workflow.created_at),
        "updated_at": iso(workflow.updated_at),
    }
    if (latest.definition.get("trigger") or {}).get("type") == "webhook":
        data["webhook_url"] = webhook_url(workflow)
    # The schedule that fires is the published one; before the first publish, preview the draft's.
    schedule = schedule_of((published or latest).definition)
    if schedule is not None:
        data["schedule"] = schedule_json(schedule)
    return data


def workflows_json(rows: list[Workflow]) -> list[dict[str, Any]]:
    """A page of workflows with their latest and published versions loaded in one query, not two per row."""
    wanted = sa.or_(
        sa.tuple_(WorkflowVersion.workflow_id, WorkflowVersion.number).in_(
            [(w.id, w.latest_version_number) for w in rows]),
        WorkflowVersion.id.in_([w.current_version_id for w in rows if w.current_version_id]),
    )
    versions = {v.id: v for v in db.session.scalars(sa.select(WorkflowVersion).where(wanted))} if rows else {}
    return [workflow_json(w, versions) for w in rows]


def schedule_json(schedule: Schedule) -> dict[str, Any]:
    return {
        "cron": schedule.cron,
        "every_seconds": schedule.every.total_seconds() if schedule.every is not None else None,
        "timezone": schedule.timezone,
        "description": describe(schedule),
        "next_runs": [iso(moment) for moment in upcoming(schedule, utcnow())],
    }


def execution_summary(execution: Execution, version_number: int | None = None) -> dict[str, Any]:
    if version_number is None:
        version_number = db.session.scalar(
            sa.select(WorkflowVersion.number).where(WorkflowVersion.id == execution.version_id)
        )
    return {
        "id": execution.id,
        "workflow_id": execution.workflow_id,
        "version": version_number,
        "status": execution.status,
        "trigger_kind": execution.trigger_kind,
        "error": execution.error,
        "error_step": execution.error_step,
        "correlation_id": execution.correlation_id,
        "created_at": iso(execution.created_at),
        "started_at": iso(execution.started_at),
        "finished_at": iso(execution.finished_at),
    }


def execution_json(execution: Execution) -> dict[str, Any]:
    steps = db.session.scalars(
        sa.select(StepRun).where(StepRun.execution_id == execution.id).order_by(StepRun.id)
    )
    events = db.session.scalars(
        sa.select(ExecutionEvent).where(ExecutionEvent.execution_id == execution.id).order_by(ExecutionEvent.id)
    )
    return {
        **execution_summary(execution),
        "trigger": execution.trigger,
        "steps": [
            {
                "step_id": s.step_id, "action": s.action, "status": s.status, "attempt": s.attempt,
                "parent_step_id": s.parent_step_id, "item_index": s.item_index,
                "input": s.input, "output": s.output, "error": s.error,
                "started_at": iso(s.started_at), "finished_at": iso(s.finished_at),
            }
            for s in steps
        ],
        "events": [{"from": e.from_status, "to": e.to_status, "at": iso(e.at), "reason": e.reason} for e in events],
    }
