"""REST API v1, workflows: list, create, read, edit, delete, publish, pause, resume, and start a run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, g, jsonify, request, url_for

from automation import ingest, retention, template_instances, workflows
from automation.definitions import DefinitionError
from automation.models import Workflow, db
from automation.scoping import get_or_404, scoped
from automation.web.auth import require_token
from automation.web.errors import ApiError
from automation.web.request_input import json_object, page_args
from automation.web.serializers import absolute_url, execution_summary, workflow_json, workflows_json
from automation.workflow_checks import version_problems

api = Blueprint("api", __name__, url_prefix="/api/v1")
api.before_request(require_token)

MAX_IDEMPOTENCY_KEY = 255
WORKFLOW_FIELDS = frozenset({"name", "definition", "params"})
TEMPLATE_FIELDS = frozenset({"template", "name", "params", "publish"})
EDIT_FIELDS = WORKFLOW_FIELDS | {"retention_days"}


def invalid(exc: DefinitionError) -> ApiError:
    return ApiError(
        422, "the workflow is not valid: " + "; ".join(str(p) for p in exc.problems[:5]),
        details=[{"path": p.path, "message": p.message} for p in exc.problems],
    )


def _unknown_fields(body: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(400, f"unknown field(s): {', '.join(unknown)}", details={"fields": unknown})


def _name(body: dict[str, Any]) -> Any:
    # A wrong JSON type is a malformed request (400); an empty or over-long name is a validation problem (422).
    if "name" in body and not isinstance(body["name"], str):
        raise ApiError(400, "'name' must be a string")
    return body.get("name")


def _definition(body: dict[str, Any], required: bool) -> Any:
    if "definition" not in body:
        if required:
            raise ApiError(422, "the workflow is not valid: definition: required",
                           details=[{"path": "definition", "message": "required"}])
        return None
    if not isinstance(body["definition"], dict):
        raise ApiError(400, "'definition' must be a JSON object with 'trigger' and 'steps'")
    return body["definition"]


def _params(body: dict[str, Any]) -> dict[str, Any] | None:
    if "params" in body and not isinstance(body["params"], dict):
        raise ApiError(400, "'params' must be a JSON object")
    return body.get("params")


@api.get("/workflows")
def list_workflows() -> Response:
    page, per_page = page_args()
    total = db.session.scalar(sa.select(sa.func.count()).select_from(scoped(Workflow).subquery()))
    rows = db.session.scalars(
        scoped(Workflow).order_by(Workflow.id.desc()).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return jsonify(items=workflows_json(list(rows)), page=page, per_page=per_page, total=total,
                   next=page + 1 if page * per_page < (total or 0) else None)


@api.post("/workflows")
def create_workflow() -> tuple[Response, int]:
    """From ``{"name", "definition", "params"?}``, or from a template: ``{"template", "name"?, "params",
    "publish"?}`` (docs/templates.md)."""
    body = json_object()
    if "template" in body:
        return _create_from_template(body)
    _unknown_fields(body, WORKFLOW_FIELDS)
    try:
        workflow = workflows.create_workflow(
            g.identity.workspace_id, _name(body), _definition(body, required=True),
            params=_params(body), author_id=g.identity.user_id,
        )
    except DefinitionError as exc:
        raise invalid(exc) from None
    return jsonify(workflow_json(workflow)), 201


def _create_from_template(body: dict[str, Any]) -> tuple[Response, int]:
    if "definition" in body:
        raise ApiError(400, "give either 'definition' or 'template', not both")
    _unknown_fields(body, TEMPLATE_FIELDS)
    if not isinstance(body["template"], str):
        raise ApiError(400, "'template' must be a template key such as 'lead-to-slack'")
    publish = body.get("publish", False)
    if not isinstance(publish, bool):
        raise ApiError(400, "'publish' must be true or false")
    try:
        workflow = template_instances.create_from_template(
            g.identity.workspace_id, body["template"], _name(body), _params(body), author_id=g.identity.user_id,
            publish=publish,
        )
    except DefinitionError as exc:
        raise invalid(exc) from None
    return jsonify(workflow_json(workflow)), 201


@api.get("/workflows/<workflow_id>")
def get_workflow(workflow_id: str) -> Response:
    """The workflow; ``problems`` lists why its published version would fail now (a deleted connection)."""
    workflow = get_or_404(Workflow, workflow_id, "workflow")
    published = workflow.current_version
    problems = version_problems(workflow.workspace_id, published.definition, published.params or {}) \
        if published else []
    return jsonify({**workflow_json(workflow), "problems": [{"path": p.path, "message": p.message} for p in problems]})


@api.patch("/workflows/<workflow_id>")
def edit_workflow(workflow_id: str) -> Response:
    workflow = get_or_404(Workflow, workflow_id, "workflow")
    body = json_object()
    _unknown_fields(body, EDIT_FIELDS)
    if "retention_days" in body:
        _keep_runs_for(workflow, body["retention_days"])
    definition, params = _definition(body, required=False), _params(body)
    # A definition edited by hand is the workflow's own from now on: later params edits keep it.
    by_hand = definition is not None
    try:
        if workflow.template_key and definition is None and params is not None:
            # Params alone re-render the template (docs/templates.md), so a new time also moves the schedule.
            instance = template_instances.reinstantiate(workflow, params)
            definition, params = instance.definition, instance.params
        workflows.update_workflow(workflow, name=_name(body), definition=definition, params=params,
                                  author_id=g.identity.user_id, detach_template=by_hand)
    except DefinitionError as exc:
        raise invalid(exc) from None
    return jsonify(workflow_json(workflow))


def _keep_runs_for(workflow: Workflow, days: Any) -> None:
    if days is not None and (not isinstance(days, int) or isinstance(days, bool)):
        raise ApiError(400, "'retention_days' must be a whole number of days, or null for the default")
    try:
        retention.keep_runs_for(workflow, days, actor_id=g.identity.user_id)
    except ValueError as exc:
        raise ApiError(422, f"retention_days: {exc}",
                       details=[{"path": "retention_days", "message": str(exc)}]) from None


@api.delete("/workflows/<workflow_id>")
def delete_workflow(workflow_id: str) -> tuple[str, int]:
    workflows.delete_workflow(get_or_404(Workflow, workflow_id, "workflow"), actor_id=g.identity.user_id)
    return "", 204


@api.post("/workflows/<workflow_id>/publish")
def publish_workflow(workflow_id: str) -> Response:
    """Publish the latest version, or ``{"version": n}`` to publish an older one again (a roll-back)."""
    workflow = get_or_404(Workflow, workflow_id, "workflow")
    body = json_object(allow_empty=True)
    _unknown_fields(body, frozenset({"version"}))
    number = body.get("version")
    if number is not None and (not isinstance(number, int) or isinstance(number, bool)):
        raise ApiError(400, "'version' must be a version number")
    try:
        workflows.publish(workflow, number, actor_id=g.identity.user_id)
    except LookupError:
        raise ApiError(422, f"this workflow has no version {number}",
                       details=[{"path": "version", "message": f"no version {number}"}]) from None
    except DefinitionError as exc:
        raise invalid(exc) from None
    return jsonify(workflow_json(workflow))


@api.post("/workflows/<workflow_id>/pause")
def pause_workflow(workflow_id: str) -> Response:
    return _lifecycle(workflow_id, workflows.pause)


@api.post("/workflows/<workflow_id>/resume")
def resume_workflow(workflow_id: str) -> Response:
    return _lifecycle(workflow_id, workflows.resume)


def _lifecycle(workflow_id: str, change: Callable[..., Workflow]) -> Response:
    workflow = get_or_404(Workflow, workflow_id, "workflow")
    try:
        change(workflow, actor_id=g.identity.user_id)
    except workflows.LifecycleError as exc:
        raise ApiError(409, str(exc)) from None
    return jsonify(workflow_json(workflow))


@api.post("/workflows/<workflow_id>/hook-token")
def rotate_hook_token(workflow_id: str) -> Response:
    """A new webhook URL (``webhook_url`` in the answer); the old one stops working at once."""
    return jsonify(workflow_json(workflows.rotate_hook_token(get_or_404(Workflow, workflow_id, "workflow"))))


@api.post("/workflows/<workflow_id>/executions")
def start_execution(workflow_id: str) -> tuple[Response, int]:
    """Start a run with the body as ``trigger.body``; an ``Idempotency-Key`` makes retries safe."""
    return run_now(get_or_404(Workflow, workflow_id, "workflow"), json_object(allow_empty=True))


def run_now(workflow: Workflow, body: dict[str, Any]) -> tuple[Response, int]:
    """Start a manual run with ``body`` as ``trigger.body`` (shared with the older API's ``/execute``)."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 0 < len(key) <= MAX_IDEMPOTENCY_KEY:
        raise ApiError(400, f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters")
    try:
        execution, created = ingest.start_execution(
            workflow, trigger_kind="manual", payload=ingest.manual_payload(workflow, body), idempotency_key=key,
        )
    except ingest.NotRunnable as exc:
        raise ApiError(409, str(exc)) from None
    if not created and execution.trigger.get("body") != body:
        # Answering with the first run would hide a client bug that reuses keys (IETF idempotency-key draft).
        raise ApiError(422, "this Idempotency-Key was already used with a different body; use a new key",
                       details={"execution_id": execution.id})
    url = absolute_url(url_for("api.get_execution", execution_id=execution.id))
    response = jsonify({**execution_summary(execution), "url": url})
    response.headers["Location"] = url
    return response, 202 if created else 200
