"""What the workflow and run pages show, in words: the trigger, the steps as a flow, times and durations.

Plain functions over definitions and rows, so the templates only lay things out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from flask import abort

from automation.schedules import describe, schedule_of
from automation.scoping import get_or_404
from automation.web.errors import ApiError
from integrations.registry import find_action

M = TypeVar("M")

# The inputs that tell a business user where a step sends or what it waits for, in the order shown.
KEY_FIELDS = ("channel", "to", "url", "subject", "method", "items", "duration", "until", "assignee", "title")
MAX_KEY_FIELDS = 3
MAX_VALUE_CHARS = 120
TRIGGER_WORDS = {"webhook": "When its webhook URL is called", "manual": "Runs when started"}


@dataclass(frozen=True)
class StepView:
    """One step of the flow: who does it, what, with which key inputs, under which condition."""

    id: str
    connector: str
    action: str
    fields: list[tuple[str, str]]
    condition: str | None
    steps: list[StepView] = field(default_factory=list)


def found(model: type[M], object_id: Any, what: str) -> M:
    """The caller's workspace's row, or an HTML 404 (another workspace's id is "not found", never forbidden)."""
    try:
        return get_or_404(model, object_id, what)
    except ApiError as exc:
        abort(404, description=exc.message)


def trigger_kind(definition: Mapping[str, Any]) -> str:
    return str((definition.get("trigger") or {}).get("type") or "manual")


def trigger_words(definition: Mapping[str, Any]) -> str:
    """The trigger in one line: "When its webhook URL is called", "At 09:00, Monday through Friday, UTC"."""
    schedule = schedule_of(definition)
    if schedule is not None:
        return describe(schedule)
    return TRIGGER_WORDS.get(trigger_kind(definition), "Runs when started")


def step_flow(steps: Any) -> list[StepView]:
    """The definition's steps (nested ``for_each`` steps inside their loop) as readable views."""
    if not isinstance(steps, list):
        return []
    return [_step_view(raw) for raw in steps if isinstance(raw, Mapping)]


def _step_view(raw: Mapping[str, Any]) -> StepView:
    uses = str(raw.get("uses", ""))
    found_action = find_action(uses)
    connector, _, action = uses.partition(".")
    if found_action is not None:
        connector, action = found_action[0].title, found_action[1].title
    inputs = raw.get("with") if isinstance(raw.get("with"), Mapping) else {}
    fields = [(name, short(inputs[name])) for name in KEY_FIELDS if name in inputs][:MAX_KEY_FIELDS]
    condition = raw.get("if")
    return StepView(
        id=str(raw.get("name") or raw.get("id", "")), connector=connector, action=action, fields=fields,
        condition=short(condition) if condition not in (None, "") else None, steps=step_flow(raw.get("steps")),
    )


def short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def pretty(value: Any) -> str:
    """JSON for a ``<pre>``: indented, keys in their stored order."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def when(value: datetime | str | None) -> str:
    """A moment as "2025-03-01 09:00 UTC" (ISO strings from the serializers too); "—" for none."""
    if value is None:
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def took(started: datetime | None, finished: datetime | None) -> str:
    """How long something ran: "850 ms", "12.3 s", "4 min 05 s"; "" while unknown."""
    if started is None or finished is None:
        return ""
    seconds = (finished - started).total_seconds()
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest:02d} s"


VIEW_HELPERS = {"when": when, "took": took, "pretty": pretty}
