"""Calling one step's action: resolving its connection, enforcing the step timeout, and turning whatever
the call raises into a ``ConnectorError`` the engine can record and decide to retry."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from automation.models import Connection, db
from integrations.base import ConnectorError
from integrations.registry import find_action


def resolve_connection(workspace_id: int, reference: Any) -> dict[str, Any]:
    """The fields of the workspace's connection named (or numbered) ``reference``.

    Raises:
        ConnectorError: (not retryable) when the workspace has no such connection.
    """
    query = sa.select(Connection).where(Connection.workspace_id == workspace_id)
    text = str(reference).strip()
    condition = Connection.name == text
    if text.isdigit():
        condition = sa.or_(condition, Connection.id == int(text))
    connection = db.session.scalar(query.where(condition))
    if connection is None:
        raise ConnectorError(f"connection {text!r} does not exist in this workspace")
    return {"id": connection.id, "name": connection.name, "connector": connection.connector, **connection.fields}


def call_action(
    uses: str, inputs: dict[str, Any], connection: Mapping[str, Any] | None, timeout: float
) -> dict[str, Any]:
    """Run ``uses`` with ``inputs``; the result is always a JSON-ready dict.

    The call runs in a helper thread so a hung network call cannot hold the run past ``timeout``; the
    thread is abandoned (the worker's job ends soon after and takes it along).

    Raises:
        ConnectorError: the action failed, raised something unexpected, or ran out of time.
    """
    found = find_action(uses)
    if found is None:
        raise ConnectorError(f"unknown action {uses!r}")
    connector, action = found
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = connector.run(action.name, inputs, connection)
        except BaseException as exc:  # noqa: BLE001 - every failure is reported as the step's error
            outcome["error"] = exc

    thread = threading.Thread(target=target, name=f"step-{uses}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise ConnectorError(
            f"{uses} did not finish within {timeout:g}s; it may still have taken effect",
            retryable=True, outcome_unknown=True,
        )
    error = outcome.get("error")
    if isinstance(error, ConnectorError):
        raise error
    if error is not None:
        raise ConnectorError(f"{uses} failed unexpectedly: {type(error).__name__}: {error}") from error
    value = outcome.get("value")
    if not isinstance(value, Mapping):
        raise ConnectorError(f"{uses} returned {type(value).__name__}, not a mapping")
    return jsonable(dict(value))


def jsonable(value: Any) -> Any:
    """Make rendered values storable as JSON: datetimes to ISO text, tuples/sets to lists, keys to str."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
