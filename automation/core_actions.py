"""Relay's built-in ``core.*`` actions. ``set`` and ``filter`` run like any connector action; the engine
gives ``delay`` its meaning (park the run without holding a worker) because only it can park a run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.base import Action, CallContext, Connector, ConnectorError
from integrations.registry import register


class Core(Connector):
    key = "core"
    title = "Relay"
    actions = (
        Action(
            "set",
            "Compute values",
            {"type": "object", "description": "names mapped to values or expressions"},
            description="Computes named values; later steps read them as steps.<id>.output.<name>.",
        ),
        Action(
            "filter",
            "Continue only if",
            {
                "type": "object",
                "required": ["condition"],
                "properties": {"condition": {"description": "expression; the run stops quietly when false"}},
                "additionalProperties": False,
            },
            {"type": "object", "properties": {"passed": {"type": "boolean"}}},
            description="Ends the run (succeeded, later steps skipped) when the condition is false.",
        ),
        Action(
            "delay",
            "Wait",
            {
                "type": "object",
                "properties": {
                    "for": {"type": "string", "description": "a duration such as 10s, 15m, 2h, 3d"},
                    "until": {"type": "string", "description": "an ISO 8601 time"},
                },
                "additionalProperties": False,
                "minProperties": 1,
                "maxProperties": 1,
            },
            {"type": "object", "properties": {"waited_until": {"type": "string"}}},
            description="Pauses the run for a duration or until a time, without holding a worker.",
        ),
    )

    def run(
        self, action: str, inputs: dict[str, Any], connection: Mapping[str, Any] | None, context: CallContext
    ) -> dict[str, Any]:
        if action == "set":
            return dict(inputs)
        if action == "filter":
            return {"passed": bool(inputs.get("condition"))}
        raise ConnectorError(f"core.{action} is run by the engine, not called directly")


register(Core())
