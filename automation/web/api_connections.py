"""REST API v1, connectors and connections: the connector catalogue forms are generated from, and saved
connections (create, read, change, delete, test) whose secrets are write-only."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Response, current_app, g, jsonify, request, url_for

from automation import connections
from automation.models import Connection, User, db
from automation.scoping import get_or_404, scoped
from automation.web.api import api
from automation.web.errors import ApiError
from automation.web.request_input import json_object, page_args
from automation.web.serializers import absolute_url
from integrations.base import ConnectorError
from integrations.outbound import OutboundPolicy
from integrations.registry import connection_types, connectors

CONNECTION_FIELDS = frozenset({"name", "connector", "fields"})


@api.get("/connectors")
def list_connectors() -> Response:
    """Every connector with its actions' input schemas, and every connection type with its fields."""
    return jsonify(items=[c.to_dict() for c in connectors()],
                   connection_types=[t.to_dict() for t in connection_types()])


def _invalid(exc: connections.ConnectionInvalid) -> ApiError:
    return ApiError(422, "the connection is not valid: " + "; ".join(
        f"{path}: {problem}" for path, problem in list(exc.problems.items())[:5]),
        details=[{"path": path, "message": problem} for path, problem in exc.problems.items()])


def _body(*, creating: bool) -> dict[str, Any]:
    body = json_object()
    unknown = sorted(set(body) - CONNECTION_FIELDS)
    if not creating and "connector" in body:
        raise ApiError(400, "a connection's connector cannot change; create a new connection instead")
    if unknown:
        raise ApiError(400, f"unknown field(s): {', '.join(unknown)}", details={"fields": unknown})
    for key, kind, label in (("name", str, "a string"), ("connector", str, "a string"), ("fields", dict,
                                                                                       "a JSON object")):
        if key in body and not isinstance(body[key], kind):
            raise ApiError(400, f"'{key}' must be {label}")
    return body


def _actor() -> User | None:
    return db.session.get(User, g.identity.user_id)


@api.get("/connections")
def list_connections() -> Response:
    page, per_page = page_args()
    query = scoped(Connection)
    connector = request.args.get("connector")
    if connector:
        query = query.where(Connection.connector == connector)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    rows = db.session.scalars(query.order_by(Connection.name).limit(per_page).offset((page - 1) * per_page)).all()
    return jsonify(items=[connections.describe(c) for c in rows], page=page, per_page=per_page, total=total,
                   next=page + 1 if page * per_page < (total or 0) else None)


@api.post("/connections")
def create_connection() -> tuple[Response, int]:
    body = _body(creating=True)
    try:
        connection = connections.create_connection(
            g.identity.workspace_id, body.get("name"), body.get("connector"), body.get("fields", {}),
            actor=_actor())
    except connections.ConnectionInvalid as exc:
        raise _invalid(exc) from None
    except connections.ConnectionTaken as exc:
        raise ApiError(409, str(exc)) from None
    response = jsonify(connections.describe(connection))
    response.headers["Location"] = absolute_url(url_for("api.get_connection", connection_id=connection.id))
    return response, 201


@api.get("/connections/<connection_id>")
def get_connection(connection_id: str) -> Response:
    return jsonify(connections.describe(get_or_404(Connection, connection_id, "connection")))


@api.patch("/connections/<connection_id>")
def edit_connection(connection_id: str) -> Response:
    """Rename and/or change fields: given fields replace saved ones, ``null`` clears one, omitted secrets
    stay as saved."""
    connection = get_or_404(Connection, connection_id, "connection")
    body = _body(creating=False)
    try:
        connections.update_connection(connection, name=body.get("name"), fields=body.get("fields"), actor=_actor())
    except connections.ConnectionInvalid as exc:
        raise _invalid(exc) from None
    except connections.ConnectionTaken as exc:
        raise ApiError(409, str(exc)) from None
    return jsonify(connections.describe(connection))


@api.delete("/connections/<connection_id>")
def delete_connection(connection_id: str) -> tuple[str, int]:
    connections.delete_connection(get_or_404(Connection, connection_id, "connection"), actor=_actor())
    return "", 204


@api.post("/connections/<connection_id>/test")
def test_connection(connection_id: str) -> Response:
    """Use the saved credentials for real; a failed check is an answer (``ok: false``), not an API error."""
    connection = get_or_404(Connection, connection_id, "connection")
    config = current_app.config
    policy = OutboundPolicy.parse(config["RELAY_ALLOWED_HOSTS"])
    try:
        message = connections.check(connection, policy, float(config["RELAY_STEP_TIMEOUT"]), actor=_actor())
    except ConnectorError as exc:
        return jsonify(ok=False, message=exc.message, retryable=exc.retryable)
    return jsonify(ok=True, message=message)
