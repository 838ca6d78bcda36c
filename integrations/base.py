"""The connector interface: a connector declares actions (input JSON Schema, output shape, connection type)
and runs them; a failed call raises ``ConnectorError`` saying whether trying again can help. A connection
type declares the fields a saved credential has (which of them are secret) and how to check it for real."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import jsonschema


class ConnectorError(Exception):
    """A step's call failed. ``retryable`` says whether the same call may succeed later.

    ``retry_after`` (seconds) carries a server's Retry-After hint; ``outcome_unknown`` marks calls that may
    have taken effect (a timeout after sending), which must not be blindly repeated.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        outcome_unknown: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
        self.outcome_unknown = outcome_unknown


@dataclass(frozen=True)
class CallContext:
    """Where a call comes from. ``delivery_id`` is the same for every attempt of one step in one execution,
    so receivers (and idempotency headers) can tell a retry from a new message."""

    execution_id: int
    step_id: str
    attempt: int
    timeout: float
    max_response_bytes: int = 1_048_576
    item_index: int | None = None

    @property
    def delivery_id(self) -> str:
        item = "" if self.item_index is None else f"_{self.item_index}"
        return f"msg_relay_{self.execution_id}_{self.step_id}{item}"


@dataclass(frozen=True)
class Action:
    """One thing a connector can do: ``slack.post_message``.

    ``idempotent`` actions may be repeated after a call whose outcome is unknown (a timeout after sending);
    others are not retried then, because the message may already have gone out.
    """

    name: str
    title: str
    input_schema: Mapping[str, Any]
    output_schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "object"})
    description: str = ""
    idempotent: bool = False

    def checked_inputs(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """``inputs`` without unset (None) optional values, checked against ``input_schema``.

        Raises:
            ConnectorError: naming the first bad value and where it is (``blocks[2].type: ...``).
        """
        present = {k: v for k, v in inputs.items() if v is not None}
        validator = jsonschema.Draft202012Validator(self.input_schema)
        error = jsonschema.exceptions.best_match(validator.iter_errors(present))
        if error is not None:
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
            raise ConnectorError(f"{where or 'inputs'}: {error.message}"[:300])
        return present

    def to_dict(self, connector: Connector) -> dict[str, Any]:
        return {
            "uses": f"{connector.key}.{self.name}",
            "title": self.title,
            "description": self.description,
            "connection": connector.connection_type,
            "idempotent": self.idempotent,
            "input_schema": dict(self.input_schema),
            "output_schema": dict(self.output_schema),
        }


class Connector:
    """Base class for connectors. Subclasses set the class attributes and implement ``run``."""

    key: ClassVar[str]
    title: ClassVar[str]
    connection_type: ClassVar[str | None] = None
    actions: ClassVar[tuple[Action, ...]] = ()

    def action(self, name: str) -> Action | None:
        return next((a for a in self.actions if a.name == name), None)

    def run(
        self, action: str, inputs: dict[str, Any], connection: Mapping[str, Any] | None, context: CallContext
    ) -> dict[str, Any]:
        """Perform ``action`` with rendered ``inputs``; ``connection`` holds decrypted fields.

        Raises:
            ConnectorError: when the call fails.
        """
        raise ConnectorError(f"{self.key} cannot run {action!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "connection": self.connection_type,
            "actions": [a.to_dict(self) for a in self.actions],
        }


@dataclass(frozen=True)
class ConnectionField:
    """One field of a saved connection. ``schema`` is its JSON Schema; secret fields are write-only."""

    name: str
    title: str
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string", "minLength": 1})
    secret: bool = False
    required: bool = False
    description: str = ""

    def to_schema(self) -> dict[str, Any]:
        schema = {"title": self.title, **self.schema}
        if self.description:
            schema["description"] = self.description
        if self.secret:
            schema["writeOnly"] = True
        return schema


@dataclass(frozen=True)
class ConnectionType:
    """A kind of credential: ``smtp``, ``twilio``, ``slack``, ``teams``, ``webhook``.

    ``validate`` adds rules a field-by-field schema cannot say (one of two fields, a key format) and
    returns ``{field: problem}``; ``check`` talks to the service and raises ``ConnectorError`` saying
    what failed, or returns a short description of what it verified.
    """

    key: str
    title: str
    fields: tuple[ConnectionField, ...]
    check: Callable[[Mapping[str, Any], float], str]
    validate: Callable[[Mapping[str, Any]], dict[str, str]] = lambda fields: {}
    description: str = ""

    @property
    def secret_fields(self) -> frozenset[str]:
        return frozenset(f.name for f in self.fields if f.secret)

    def field(self, name: str) -> ConnectionField | None:
        return next((f for f in self.fields if f.name == name), None)

    def schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {f.name: f.to_schema() for f in self.fields},
            "required": [f.name for f in self.fields if f.required],
            "additionalProperties": False,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "description": self.description,
            "secret_fields": sorted(self.secret_fields),
            "schema": self.schema(),
        }
