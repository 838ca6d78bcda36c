"""REST API v1, a workflow's versions and files: list versions, publish one again (roll back), export the
latest as YAML or JSON, import a file as a new draft."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Response, g, jsonify, request

from automation import workflow_files, workflows
from automation.definitions import DefinitionError
from automation.models import User, Workflow, WorkflowVersion, db
from automation.scoping import get_or_404
from automation.web.api import api, invalid
from automation.web.errors import ApiError
from automation.web.request_input import json_object
from automation.web.serializers import iso, workflow_json

EXPORT_FORMATS = {"yaml": "application/yaml", "json": "application/json"}
YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})


@api.get("/workflows/<workflow_id>/versions")
def list_versions(workflow_id: str) -> Response:
    """Every version, newest first, with who saved it and whether it is the published one."""
    workflow = get_or_404(Workflow, workflow_id, "workflow")
    rows = db.session.execute(
        sa.select(WorkflowVersion, User.email)
        .outerjoin(User, User.id == WorkflowVersion.author_id)
        .where(WorkflowVersion.workflow_id == workflow.id)
        .order_by(WorkflowVersion.number.desc())
    ).all()
    return jsonify(items=[_version_json(workflow, version, author) for version, author in rows])


@api.get("/workflows/<workflow_id>/versions/<int:number>")
def get_version(workflow_id: str, number: int) -> Response:
    workflow = get_or_404(Workflow, workflow_id, "workflow")
    version = workflows.version_by_number(workflow, number)
    if version is None:
        raise ApiError(404, f"workflow {workflow.id} has no version {number}")
    author = db.session.get(User, version.author_id) if version.author_id else None
    return jsonify({**_version_json(workflow, version, author.email if author else None),
                    "definition": version.definition, "params": version.params})


@api.post("/workflows/<workflow_id>/versions/<int:number>/publish")
def publish_version(workflow_id: str, number: int) -> Response:
    """Roll back (or forward): new runs use version ``number``; runs in flight finish on their own."""
    workflow = get_or_404(Workflow, workflow_id, "workflow")
    try:
        workflows.publish(workflow, number, actor_id=g.identity.user_id)
    except LookupError:
        raise ApiError(404, f"workflow {workflow.id} has no version {number}") from None
    except DefinitionError as exc:
        raise invalid(exc) from None
    return jsonify(workflow_json(workflow))


@api.get("/workflows/<workflow_id>/export")
def export_workflow(workflow_id: str) -> Response:
    """``?format=yaml`` (default) or ``json``: the latest version as a file, connections by name, no secrets."""
    workflow = get_or_404(Workflow, workflow_id, "workflow")
    file_format = request.args.get("format", "yaml")
    if file_format not in EXPORT_FORMATS:
        raise ApiError(400, "format must be yaml or json", details={"parameter": "format"})
    text = workflow_files.dump(workflow_files.export_data(workflow), file_format)
    filename = f"workflow-{workflow.id}.{'yaml' if file_format == 'yaml' else 'json'}"
    return Response(text, mimetype=EXPORT_FORMATS[file_format],
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@api.post("/workflows/import")
def import_workflow() -> tuple[Response, int]:
    """A file from ``export`` (JSON, or YAML with a YAML content type) becomes a new draft workflow."""
    try:
        if request.mimetype in YAML_TYPES:
            data = workflow_files.parse_file(_utf8_body())
        else:
            data = workflow_files.check_file(json_object())
        workflow = workflow_files.import_data(g.identity.workspace_id, data, author_id=g.identity.user_id)
    except DefinitionError as exc:
        raise invalid(exc) from None
    return jsonify(workflow_json(workflow)), 201


def _utf8_body() -> str:
    try:
        return request.get_data(cache=True).decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "the file is not UTF-8 text") from None


def _version_json(workflow: Workflow, version: WorkflowVersion, author: str | None) -> dict[str, Any]:
    return {
        "number": version.number,
        "created_at": iso(version.created_at),
        "published_at": iso(version.published_at),
        "author": author,
        "current": version.id == workflow.current_version_id,
        "latest": version.number == workflow.latest_version_number,
    }
