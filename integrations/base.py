"""The connector interface: a connector declares actions (input JSON Schema, output shape, connection type)
and runs them; a failed call raises ``ConnectorError`` saying whether trying again can help."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar


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
class Action:
    """One thing a connector can do: ``slack.post_message``."""

    name: str
    title: str
    input_schema: Mapping[str, Any]
    output_schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "object"})
    description: str = ""

    def to_dict(self, connector: Connector) -> dict[str, Any]:
        return {
            "uses": f"{connector.key}.{self.name}",
            "title": self.title,
            "description": self.description,
            "connection": connector.connection_type,
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

    def run(self, action: str, inputs: dict[str, Any], connection: Mapping[str, Any] | None) -> dict[str, Any]:
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
