"""Calling one step's action: enforcing the step timeout and the outbound policy, and turning whatever
the call raises into a ``ConnectorError`` the engine can record and decide to retry."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from integrations import outbound
from integrations.base import Action, CallContext, ConnectorError
from integrations.outbound import OutboundPolicy
from integrations.registry import find_action


def call_action(
    uses: str, inputs: dict[str, Any], connection: Mapping[str, Any] | None, context: CallContext,
    policy: OutboundPolicy,
) -> dict[str, Any]:
    """Run ``uses`` with ``inputs`` under the outbound ``policy``; the result is always a JSON-ready dict.

    The call runs in a helper thread so a hung network call cannot hold the run past ``context.timeout``;
    the thread is abandoned (the worker's job ends soon after and takes it along). A call whose outcome is
    unknown is retryable only when the action is idempotent: repeating an SMS could send it twice.

    Raises:
        ConnectorError: the action failed, raised something unexpected, or ran out of time.
    """
    found = find_action(uses)
    if found is None:
        raise ConnectorError(f"unknown action {uses!r}")
    connector, action = found
    outcome: dict[str, Any] = {}

    def target() -> None:
        with outbound.guard(policy):
            try:
                outcome["value"] = connector.run(action.name, inputs, connection, context)
            except BaseException as exc:  # noqa: BLE001 - every failure is reported as the step's error
                outcome["error"] = exc
            outcome["refused"] = outbound.refusal()

    thread = threading.Thread(target=target, name=f"step-{uses}", daemon=True)
    thread.start()
    thread.join(context.timeout)
    if thread.is_alive():
        raise _unknown_outcome(ConnectorError(
            f"{uses} did not finish within {context.timeout:g}s; it may still have taken effect",
            retryable=True, outcome_unknown=True,
        ), action)
    error = outcome.get("error")
    if error is not None and outcome.get("refused"):
        raise ConnectorError(f"{uses}: {outcome['refused']}") from error
    if isinstance(error, ConnectorError):
        raise _unknown_outcome(error, action)
    if error is not None:
        raise ConnectorError(f"{uses} failed unexpectedly: {type(error).__name__}: {error}") from error
    value = outcome.get("value")
    if not isinstance(value, Mapping):
        raise ConnectorError(f"{uses} returned {type(value).__name__}, not a mapping")
    return jsonable(dict(value))


def _unknown_outcome(error: ConnectorError, action: Action) -> ConnectorError:
    if not error.outcome_unknown or action.idempotent or not error.retryable:
        return error
    return ConnectorError(f"{error.message} (not retried automatically: it may already have taken effect)",
                          retryable=False, outcome_unknown=True)


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
