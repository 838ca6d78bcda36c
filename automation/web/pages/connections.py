"""Connections pages: the list, a form generated from each connection type's fields, edit, test, delete.

Secrets are write-only here as in the API: a saved secret shows as "set", its input stays empty, and
leaving it empty keeps it. A connection an active workflow uses cannot be deleted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from automation import connections
from automation.connection_usage import active_users, connection_users
from automation.models import Connection, User, db
from automation.scoping import get_or_404, scoped
from automation.web.errors import ApiError
from automation.web.pages import pages, require_editor
from integrations.base import ConnectionField, ConnectionType, ConnectorError
from integrations.outbound import OutboundPolicy
from integrations.registry import connection_types, find_connection_type

FIELD_PREFIX = "fields."


@dataclass(frozen=True)
class FormField:
    """One input of the generated form: what the template needs to render a connection type's field."""

    spec: ConnectionField
    value: str | bool
    saved: bool  # a secret already stored (its input then means "replace")

    @property
    def name(self) -> str:
        return FIELD_PREFIX + self.spec.name

    @property
    def input_type(self) -> str:
        return input_type(self.spec)

    @property
    def options(self) -> list[tuple[str, str]]:
        choices = [(str(v), str(v)) for v in self.spec.schema.get("enum", ())]
        return choices if self.spec.required else [("", "(not set)"), *choices]


def input_type(spec: ConnectionField) -> str:
    """The HTML input for a field, from its JSON Schema."""
    schema = spec.schema
    kind = schema.get("type")
    if spec.secret:
        return "password"
    if "enum" in schema:
        return "select"
    if kind == "boolean":
        return "checkbox"
    if kind in ("integer", "number"):
        return "number"
    if kind in ("object", "array"):
        return "textarea"
    return {"uri": "url", "email": "email"}.get(str(schema.get("format")), "text")


def form_fields(connection_type: ConnectionType, current: dict[str, Any], saved_secrets: dict[str, bool],
                submitted: MultiDict[str, str] | None) -> list[FormField]:
    """The inputs with their values: what was just submitted, else the saved plain values. Never a secret."""
    fields = []
    for spec in connection_type.fields:
        kind = input_type(spec)
        key = FIELD_PREFIX + spec.name
        value: str | bool
        if spec.secret:
            value = ""
        elif kind == "checkbox":
            value = key in submitted if submitted is not None else bool(current.get(spec.name,
                                                                                     spec.schema.get("default")))
        elif submitted is not None:
            value = submitted.get(key, "")
        else:
            value = _shown(current.get(spec.name, spec.schema.get("default")), kind)
        fields.append(FormField(spec, value, bool(saved_secrets.get(spec.name))))
    return fields


def read_fields(connection_type: ConnectionType, form: MultiDict[str, str], *, editing: bool) -> tuple[
        dict[str, Any], dict[str, str]]:
    """Field values from the form, and problems with the ones that are not even the right kind of value.

    An empty input is left out when adding; when editing it clears a plain field and keeps a secret
    (``clear.fields.<name>`` clears a secret).
    """
    values: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for spec in connection_type.fields:
        key = FIELD_PREFIX + spec.name
        kind = input_type(spec)
        raw = form.get(key, "").strip()
        if kind == "checkbox":
            values[spec.name] = key in form
        elif spec.secret:
            if raw:
                values[spec.name] = raw
            elif editing and form.get("clear." + key):
                values[spec.name] = None
        elif not raw:
            if editing:
                values[spec.name] = None
        else:
            try:
                values[spec.name] = _parsed(raw, spec.schema.get("type"))
            except ValueError as exc:
                problems[key] = str(exc)
    return values, problems


def _parsed(raw: str, kind: Any) -> Any:
    if kind == "integer":
        try:
            return int(raw)
        except ValueError:
            raise ValueError("enter a whole number") from None
    if kind == "number":
        try:
            return float(raw)
        except ValueError:
            raise ValueError("enter a number") from None
    if kind in ("object", "array"):
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    return raw


def _shown(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == "textarea":
        return json.dumps(value, indent=2)
    return str(value)


def local_path(target: str | None) -> str | None:
    """``target`` when it is a path on this site; an absolute or scheme-relative URL would be an open redirect."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")) and not urlsplit(target).netloc:
        return target
    return None


def _connection(connection_id: int) -> Connection:
    try:
        return get_or_404(Connection, connection_id, "connection")
    except ApiError:
        abort(404)


def _actor() -> User | None:
    return db.session.get(User, g.identity.user_id)


def _errors(problems: dict[str, str]) -> tuple[dict[str, list[str]], list[str]]:
    """Problems by input name, and those that belong to no input (shown above the form)."""
    by_field: dict[str, list[str]] = {}
    general = []
    for path, problem in problems.items():
        if path == "name" or path.startswith(FIELD_PREFIX):
            by_field.setdefault(path, []).append(problem)
        else:
            general.append(f"{path}: {problem}")
    return by_field, general


@pages.get("/connections", endpoint="connections")
def connections_list() -> str:
    rows = db.session.scalars(scoped(Connection).order_by(Connection.name)).all()
    users = connection_users(g.identity.workspace_id)
    items = [(connections.describe(row), find_connection_type(row.connector), users.get(row.id, [])) for row in rows]
    return render_template("pages/connections.html", items=items)


@pages.route("/connections/new", methods=["GET", "POST"])
def connection_new() -> Response | str:
    """Choose a connector, then fill in its fields; back to ``next`` (a local path) once saved."""
    require_editor()
    next_path = local_path(request.args.get("next"))
    connector = request.args.get("connector", "")
    connection_type = find_connection_type(connector) if connector else None
    if connection_type is None:
        return render_template("pages/connection_form.html", connection_type=None, types=connection_types(),
                               unknown=connector, next_path=next_path)
    submitted = request.form if request.method == "POST" else None
    problems: dict[str, str] = {}
    if submitted is not None:
        values, problems = read_fields(connection_type, submitted, editing=False)
        if not problems:
            try:
                connection = connections.create_connection(
                    g.identity.workspace_id, submitted.get("name", ""), connection_type.key, values, actor=_actor())
            except connections.ConnectionInvalid as exc:
                problems = exc.problems
            except connections.ConnectionTaken as exc:
                problems = {"name": str(exc)}
            else:
                flash(f"The connection “{connection.name}” is saved.", "success")
                return redirect(next_path or url_for("pages.connections"))
    errors, general = _errors(problems)
    return render_template(
        "pages/connection_form.html", connection_type=connection_type, connection=None, next_path=next_path,
        name=submitted.get("name", "") if submitted is not None else "", errors=errors, general=general,
        fields=form_fields(connection_type, {}, {}, submitted))


@pages.route("/connections/<int:connection_id>/edit", methods=["GET", "POST"])
def connection_edit(connection_id: int) -> Response | str:
    """Change the name and fields; an empty secret input keeps the saved secret."""
    require_editor()
    connection = _connection(connection_id)
    connection_type = find_connection_type(connection.connector)
    if connection_type is None:
        abort(404, description=f"the {connection.connector} connector is not installed")
    submitted = request.form if request.method == "POST" else None
    problems: dict[str, str] = {}
    if submitted is not None:
        values, problems = read_fields(connection_type, submitted, editing=True)
        if not problems:
            try:
                connections.update_connection(connection, name=submitted.get("name", ""), fields=values,
                                              actor=_actor())
            except connections.ConnectionInvalid as exc:
                problems = exc.problems
            except connections.ConnectionTaken as exc:
                problems = {"name": str(exc)}
            else:
                flash(f"The connection “{connection.name}” is saved.", "success")
                return redirect(url_for("pages.connections"))
    described = connections.describe(connection)
    errors, general = _errors(problems)
    return render_template(
        "pages/connection_form.html", connection_type=connection_type, connection=described, next_path=None,
        name=submitted.get("name", "") if submitted is not None else described["name"], errors=errors,
        general=general, users=connection_users(g.identity.workspace_id).get(connection.id, []),
        fields=form_fields(connection_type, described["fields"], described["secrets"], submitted))


@pages.post("/connections/<int:connection_id>/test")
def connection_test(connection_id: int) -> Response:
    """Use the saved credentials for real (same policy and time limit as the API) and say how it went."""
    require_editor()
    connection = _connection(connection_id)
    config = current_app.config
    try:
        message = connections.check(connection, OutboundPolicy.parse(config["RELAY_ALLOWED_HOSTS"]),
                                    float(config["RELAY_STEP_TIMEOUT"]), actor=_actor())
    except ConnectorError as exc:
        flash(f"“{connection.name}” does not work: {exc.message}", "error")
    else:
        flash(f"“{connection.name}” works: {message}", "success")
    return redirect(local_path(request.args.get("next")) or url_for("pages.connections"))


@pages.post("/connections/<int:connection_id>/delete")
def connection_delete(connection_id: int) -> Response:
    """Delete, unless an active workflow uses the connection: then say which ones."""
    require_editor()
    connection = _connection(connection_id)
    users = active_users(g.identity.workspace_id, connection.id)
    if users:
        names = ", ".join(f"“{use.name}”" for use in users)
        many = len(users) > 1
        flash(f"“{connection.name}” is not deleted: the active workflow{'s' if many else ''} {names} "
              f"{'use' if many else 'uses'} it. Pause {'them' if many else 'it'}, or change "
              f"{'their' if many else 'its'} steps to use another connection, first.", "error")
        return redirect(url_for("pages.connection_edit", connection_id=connection.id))
    name = connection.name
    connections.delete_connection(connection, actor=_actor())
    flash(f"The connection “{name}” is deleted.", "success")
    return redirect(url_for("pages.connections"))
