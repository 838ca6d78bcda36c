"""Saved connections: validating fields against their connection type, keeping secret fields encrypted,
describing a connection without its secrets, loading it for a step, checking it for real, rotating keys.
Creating, changing, deleting and testing one each record an audit entry (what ``describe`` shows, so a
secret appears only as set). No request handling here."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from automation import audit
from automation.models import Connection, User, db, utcnow
from automation.redaction import MIN_SECRET_LENGTH, Redactor, remembered
from automation.secret_box import SecretBox, SecretsUnreadable, secret_box
from integrations import outbound
from integrations.base import ConnectionType, ConnectorError
from integrations.outbound import OutboundPolicy
from integrations.registry import connection_types, find_connection_type

MAX_NAME = 120


class ConnectionInvalid(Exception):
    """The request cannot be saved: ``problems`` maps a field path to what is wrong with it."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{path}: {problem}" for path, problem in problems.items()))
        self.problems = dict(problems)


class ConnectionTaken(Exception):
    """Another connection in the workspace already has this name."""


@dataclass(frozen=True)
class LoadedConnection:
    """A connection ready for a step: every field decrypted, and a redactor for its secret values."""

    id: int
    name: str
    connector: str
    fields: dict[str, Any]
    redactor: Redactor

    def for_action(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "connector": self.connector, **self.fields}


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ConnectionInvalid({"name": "required: a non-empty name"})
    name = name.strip()
    if len(name) > MAX_NAME:
        raise ConnectionInvalid({"name": f"at most {MAX_NAME} characters"})
    if any(ch < " " or ch == "\x7f" for ch in name):
        raise ConnectionInvalid({"name": "no line breaks or control characters"})
    if name.isdigit():
        # Steps name a connection by name or by id; an all-digit name would be ambiguous.
        raise ConnectionInvalid({"name": "must contain something other than digits"})
    return name


def _connection_type(key: Any) -> ConnectionType:
    connection_type = find_connection_type(key) if isinstance(key, str) else None
    if connection_type is None:
        known = ", ".join(t.key for t in connection_types())
        raise ConnectionInvalid({"connector": f"unknown connector {key!r}; one of: {known}"})
    return connection_type


def _split_fields(connection_type: ConnectionType, given: Any, current: Mapping[str, Any]) -> tuple[
        dict[str, Any], dict[str, Any]]:
    """Validate ``given`` over ``current`` (``None`` clears a field); the plain and the secret fields."""
    if not isinstance(given, Mapping):
        raise ConnectionInvalid({"fields": "must be an object of field values"})
    problems: dict[str, str] = {}
    merged = dict(current)
    for name, value in given.items():
        spec = connection_type.field(name)
        if spec is None:
            known = ", ".join(f.name for f in connection_type.fields)
            problems[f"fields.{name}"] = f"unknown field for {connection_type.key}; fields: {known}"
            continue
        if value is None:
            merged.pop(name, None)
            continue
        error = next(jsonschema.Draft202012Validator(dict(spec.schema)).iter_errors(value), None)
        if error is not None:
            problems[f"fields.{name}"] = error.message
        elif spec.secret and (not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH):
            problems[f"fields.{name}"] = f"a secret must be text of at least {MIN_SECRET_LENGTH} characters"
        else:
            merged[name] = value
    for spec in connection_type.fields:
        if spec.required and spec.name not in merged and f"fields.{spec.name}" not in problems:
            problems[f"fields.{spec.name}"] = "required"
    for name, problem in connection_type.validate(merged).items():
        problems.setdefault(f"fields.{name}", problem)
    if problems:
        # A schema message quotes the value it rejected; a rejected secret must not come back in the answer.
        redactor = Redactor(str(given[name]) for name in connection_type.secret_fields if given.get(name))
        raise ConnectionInvalid({path: redactor.text(problem) for path, problem in problems.items()})
    secret_names = connection_type.secret_fields
    plain = {k: v for k, v in merged.items() if k not in secret_names}
    secret = {k: v for k, v in merged.items() if k in secret_names}
    return plain, secret


def create_connection(
    workspace_id: int, name: Any, connector: Any, fields: Any, *, actor: User | None = None
) -> Connection:
    """Save a new connection, secrets encrypted. Commits.

    Raises:
        ConnectionInvalid: a field, the name or the connector is not acceptable (all problems found).
        ConnectionTaken: the workspace already has a connection with this name.
    """
    problems: dict[str, str] = {}
    checked_name = connection_type = None
    try:
        checked_name = _check_name(name)
    except ConnectionInvalid as exc:
        problems.update(exc.problems)
    try:
        connection_type = _connection_type(connector)
    except ConnectionInvalid as exc:
        problems.update(exc.problems)
    if connection_type is not None:
        try:
            plain, secret = _split_fields(connection_type, fields if fields is not None else {}, {})
        except ConnectionInvalid as exc:
            problems.update(exc.problems)
    if problems or checked_name is None or connection_type is None:
        raise ConnectionInvalid(problems)
    connection = Connection(workspace_id=workspace_id, name=checked_name, connector=connection_type.key,
                            fields=plain, secrets=secret_box().encrypt(secret) if secret else None)
    db.session.add(connection)
    _save(connection, "connection.create", actor, before=None)
    return connection


def update_connection(
    connection: Connection, *, name: Any = None, fields: Any = None, actor: User | None = None
) -> Connection:
    """Rename and/or change fields; omitted secret fields keep their saved value. Commits.

    Raises:
        ConnectionInvalid: as for ``create_connection``.
        ConnectionTaken: the new name is taken.
    """
    before = describe(connection)
    problems: dict[str, str] = {}
    if name is not None:
        try:
            connection.name = _check_name(name)
        except ConnectionInvalid as exc:
            problems.update(exc.problems)
    if fields is not None:
        connection_type = _connection_type(connection.connector)
        try:
            current = {**connection.fields, **_decrypt(connection)}
        except SecretsUnreadable:  # the key is gone: the caller enters the secrets again
            current = dict(connection.fields)
        try:
            plain, secret = _split_fields(connection_type, fields, current)
        except ConnectionInvalid as exc:
            problems.update(exc.problems)
        else:
            connection.fields = plain
            connection.secrets = secret_box().encrypt(secret) if secret else None
    if problems:
        db.session.rollback()
        raise ConnectionInvalid(problems)
    connection.updated_at = utcnow()
    _save(connection, "connection.update", actor, before=before)
    return connection


def delete_connection(connection: Connection, *, actor: User | None = None) -> None:
    before = describe(connection)
    db.session.delete(connection)
    _audit(connection, "connection.delete", actor, before=before, after=None)
    db.session.commit()


def _save(connection: Connection, action: str, actor: User | None, *, before: dict[str, Any] | None) -> None:
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise ConnectionTaken(f"a connection named {connection.name!r} already exists in this workspace") from None
    _audit(connection, action, actor, before=before, after=describe(connection))
    db.session.commit()


def _audit(connection: Connection, action: str, actor: User | None, *, before: dict[str, Any] | None,
           after: dict[str, Any] | None) -> None:
    audit.record(connection.workspace_id, action, "connection", connection.id, actor=actor, before=before,
                 after=after)


def describe(connection: Connection) -> dict[str, Any]:
    """What the API and pages may show: plain fields, and for each secret field only whether it is set."""
    connection_type = find_connection_type(connection.connector)
    secret_names = sorted(connection_type.secret_fields) if connection_type else []
    try:
        saved = set(_decrypt(connection))
    except SecretsUnreadable:
        saved = set()
    return {
        "id": connection.id,
        "name": connection.name,
        "connector": connection.connector,
        "fields": dict(connection.fields),
        "secrets": {name: name in saved for name in secret_names},
        "created_at": connection.created_at.isoformat() if connection.created_at else None,
        "updated_at": connection.updated_at.isoformat() if connection.updated_at else None,
    }


def _decrypt(connection: Connection, box: SecretBox | None = None) -> dict[str, Any]:
    return (box or secret_box()).decrypt(connection.secrets)


def load(connection: Connection) -> LoadedConnection:
    """Every field decrypted; the secret values are remembered so no log line of this process shows them.

    Raises:
        SecretsUnreadable: no configured key decrypts the secrets.
    """
    secret = _decrypt(connection)
    remembered.add(secret.values())
    return LoadedConnection(connection.id, connection.name, connection.connector,
                            {**connection.fields, **secret}, Redactor(secret.values()))


def find(workspace_id: int, reference: Any) -> Connection | None:
    """The workspace's connection named ``reference``, or numbered so."""
    text = str(reference).strip()
    condition = Connection.name == text
    if text.isdigit() and len(text) < 10:
        condition = sa.or_(condition, Connection.id == int(text))
    return db.session.scalar(sa.select(Connection).where(Connection.workspace_id == workspace_id, condition))


def load_for_step(workspace_id: int, reference: Any, connection_type: str | None, uses: str) -> LoadedConnection:
    """The connection a step names, checked to be of the type its action needs.

    Raises:
        ConnectorError: (not retryable) no such connection, the wrong type, or unreadable secrets.
    """
    if connection_type is None:
        raise ConnectorError(f"{uses} does not use a connection; remove 'connection' from the step")
    connection = find(workspace_id, reference)
    if connection is None:
        raise ConnectorError(f"connection {str(reference).strip()!r} does not exist in this workspace")
    if connection.connector != connection_type:
        raise ConnectorError(f"{uses} needs a {connection_type} connection, but {connection.name!r} is a "
                             f"{connection.connector} connection")
    try:
        return load(connection)
    except SecretsUnreadable as exc:
        raise ConnectorError(f"connection {connection.name!r}: {exc}") from None


def check(connection: Connection, policy: OutboundPolicy, timeout: float, *, actor: User | None = None) -> str:
    """Talk to the service with the saved credentials: what was verified. Records the outcome; commits.

    Raises:
        ConnectorError: what failed (secrets redacted).
    """
    try:
        message = _check(connection, policy, timeout)
    except ConnectorError as exc:
        _audit(connection, "connection.test", actor, before=None, after={"ok": False, "message": exc.message})
        db.session.commit()
        raise
    _audit(connection, "connection.test", actor, before=None, after={"ok": True, "message": message})
    db.session.commit()
    return message


def _check(connection: Connection, policy: OutboundPolicy, timeout: float) -> str:
    connection_type = _connection_type(connection.connector)
    try:
        loaded = load(connection)
    except SecretsUnreadable as exc:
        raise ConnectorError(str(exc)) from None
    outcome: dict[str, Any] = {}

    def target() -> None:
        with outbound.guard(policy):
            try:
                outcome["value"] = connection_type.check(loaded.fields, timeout)
            except Exception as exc:  # noqa: BLE001 - every failure is reported to the caller
                outcome["error"] = exc
            outcome["refused"] = outbound.refusal()

    thread = threading.Thread(target=target, name=f"check-{connection.connector}", daemon=True)
    thread.start()
    thread.join(timeout + 1)
    if thread.is_alive():
        raise ConnectorError(f"no answer within {timeout:g}s")
    error = outcome.get("error")
    if error is not None:
        message = outcome.get("refused") or (error.message if isinstance(error, ConnectorError) else
                                             f"{type(error).__name__}: {error}")
        raise ConnectorError(loaded.redactor.text(message)) from None
    return loaded.redactor.text(str(outcome["value"]))


def rotate_all(box: SecretBox) -> tuple[int, list[str]]:
    """Re-encrypt every connection's secrets under the first key. Commits.

    Returns the number re-encrypted and the names (``workspace/connection``) no key could open.
    """
    rotated, unreadable = 0, []
    for connection in db.session.scalars(sa.select(Connection).where(Connection.secrets.is_not(None))):
        try:
            connection.secrets = box.rotate(connection.secrets or "")
            rotated += 1
        except SecretsUnreadable:
            unreadable.append(f"{connection.workspace_id}/{connection.name}")
    db.session.commit()
    return rotated, unreadable
