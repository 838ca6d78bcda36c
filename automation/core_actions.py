"""Relay's built-in ``core.*`` actions. ``set`` and ``filter`` run like any connector action; the engine
gives ``delay`` and ``approval`` their meaning (park the run without holding a worker) because only it can
park a run, and ``for_each`` its meaning (automation/for_each.py) because only it can run steps."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.base import Action, CallContext, Connector, ConnectorError
from integrations.registry import register

# Limits of core.for_each: one run's loop stays within what one worker job and one run view can hold.
FOR_EACH_MAX_ITEMS = 1000
FOR_EACH_MAX_CONCURRENCY = 20


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
        Action(
            "approval",
            "Ask for approval",
            {
                "type": "object",
                "required": ["assignee", "title"],
                "properties": {
                    "assignee": {
                        "type": "string",
                        "pattern": r"^\s*(role:(owner|editor|approver)|[^@\s]+@[^@\s]+)\s*$",
                        "description": "a member's email, or role:owner / role:editor / role:approver",
                    },
                    "title": {"type": "string", "minLength": 1, "description": "what to decide (one line)"},
                    "details": {"type": "string", "description": "what the approver needs to know"},
                    "due_in": {"type": "string", "description": "the SLA, a duration such as 4h or 2d"},
                    "remind_every": {"type": "string", "description": "how often to remind, e.g. 4h"},
                    "escalate_to": {"type": "string", "description": "email or role:<name> to escalate to"},
                    "notify": {"type": "string",
                               "description": "an smtp or slack connection to notify the assignee through, "
                                              "with links to approve or reject"},
                    "notify_channel": {"type": "string",
                                       "description": "the Slack channel to post to (with a slack connection)"},
                },
                "additionalProperties": False,
            },
            {
                "type": "object",
                "properties": {
                    "decision": {"enum": ["approved", "rejected"]},
                    "decided_by": {"type": ["string", "null"]},
                    "comment": {"type": ["string", "null"]},
                    "decided_at": {"type": "string"},
                },
            },
            description="Waits, without holding a worker, until a person approves or rejects; later steps "
                        "branch on steps.<id>.output.decision.",
        ),
        Action(
            "for_each",
            "Repeat for each item",
            {
                "type": "object",
                "required": ["items"],
                "properties": {
                    "items": {"type": "array", "maxItems": FOR_EACH_MAX_ITEMS,
                              "description": f"expression giving a list (at most {FOR_EACH_MAX_ITEMS} items)"},
                    "concurrency": {"type": "integer", "minimum": 1, "maximum": FOR_EACH_MAX_CONCURRENCY,
                                    "description": "how many items run at the same time (default 1)"},
                },
                "additionalProperties": False,
            },
            {
                "type": "object",
                "properties": {
                    "count": {"type": "integer"},
                    "succeeded": {"type": "integer"},
                    "filtered": {"type": "integer"},
                    "failed": {"type": "integer"},
                    "items": {"type": "array", "description": "per item: index, status, outputs (error if failed)"},
                },
            },
            description="Runs the nested steps once per item of a list, with the item as `item` and its position "
                        "as `index`; the step fails after all items ran if any of them failed.",
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
