"""REST API v1, templates: the gallery (every template with the parameters of its form) and one template with
its definition. Creating a workflow from a template is ``POST /api/v1/workflows`` with ``template``."""

from __future__ import annotations

from flask import Response, jsonify

from automation.templates import library
from automation.web.api import api
from automation.web.errors import ApiError


@api.get("/templates")
def list_templates() -> Response:
    return jsonify(items=[template.to_dict() for template in library().values()])


@api.get("/templates/<key>")
def get_template(key: str) -> Response:
    template = library().get(key)
    if template is None:
        raise ApiError(404, f"no template {key!r}; GET /api/v1/templates lists them")
    return jsonify(template.to_dict(detail=True))
