"""The older API the deployment guides describe, answering like its v1 twins: ``GET /api/workflows`` and
``POST /api/workflows/{id}/execute`` with ``{"triggerData": {...}}``, plus ``GET /api/health/workflows`` (the
caller's queue, last hour and invalid workflows: automation/workflow_health.py). Same bearer tokens and errors."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from automation.models import Workflow, utcnow
from automation.scoping import get_or_404
from automation.web.api import list_workflows, run_now
from automation.web.auth import require_token
from automation.web.errors import ApiError
from automation.web.request_input import json_object
from automation.workflow_health import workflow_health

api_compat = Blueprint("api_compat", __name__, url_prefix="/api")
api_compat.before_request(require_token)


@api_compat.get("/workflows")
def legacy_list_workflows() -> Response:
    return list_workflows()


@api_compat.post("/workflows/<workflow_id>/execute")
def legacy_execute(workflow_id: str) -> tuple[Response, int]:
    workflow = get_or_404(Workflow, workflow_id, "workflow")
    body = json_object(allow_empty=True)
    unknown = sorted(set(body) - {"triggerData"})
    if unknown:
        raise ApiError(400, f"unknown field(s): {', '.join(unknown)}; send the payload as {{\"triggerData\": {{...}}}}")
    trigger_data = body.get("triggerData", {})
    if not isinstance(trigger_data, dict):
        raise ApiError(400, "'triggerData' must be a JSON object")
    return run_now(workflow, trigger_data)


@api_compat.get("/health/workflows")
def legacy_workflow_health() -> Response:
    return jsonify(workflow_health(utcnow()))
