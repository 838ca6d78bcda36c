"""The workflow definition format (DESIGN.md "Workflow definition"): load it from YAML/JSON, validate it
reporting every problem with its path (``steps[2].with.channel: required``), and parse it into frozen
dataclasses the engine runs."""

from __future__ import annotations

import difflib
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import jsonschema
import yaml
from jinja2 import TemplateSyntaxError, meta

from automation import hook_options
from automation.durations import DurationError, parse_duration
from automation.expressions import Renderer
from automation.schedules import Schedule, cron_problem, schedule_of
from integrations import registry

STEP_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
TRIGGER_TYPES = ("webhook", "schedule", "manual")
STEP_KEYS = frozenset({"id", "uses", "with", "if", "connection", "retry", "timeout", "steps", "name",
                       "continue_on_error"})
TRIGGER_KEYS = frozenset({"type", "schedule", "verify", "response", "dedupe"})
TOP_KEYS = frozenset({"trigger", "steps", "name", "description", "on_error"})
MAX_TIMEOUT = timedelta(hours=1)
# Schema checks an expression cannot pass before it runs (it may render to any value); checked at run time.
EXPRESSION_DEFERRED = frozenset({
    "type", "format", "enum", "const", "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "multipleOf", "minLength", "maxLength", "minItems", "maxItems", "anyOf", "oneOf",
})
# Names core.for_each adds to its nested steps' context, and actions that cannot run inside one: parking
# one item while the others go on is not supported, and a loop's rows have one level of item_index.
LOOP_NAMES = frozenset({"item", "index"})
NOT_IN_LOOP = {
    "core.delay": "one item cannot wait while the others go on; put the wait before or after the loop",
    "core.approval": "one item cannot wait for a decision while the others go on; ask before or after the loop",
    "core.for_each": "loops do not nest; loop over one flattened list instead",
}


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class DefinitionError(ValueError):
    """A definition with problems; ``problems`` lists all of them."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Retry:
    attempts: int = 1
    backoff: timedelta = timedelta(seconds=10)
    factor: float = 2.0
    max_backoff: timedelta = timedelta(hours=1)

    def delay(self, failed_attempts: int) -> timedelta:
        """Wait before the next attempt after ``failed_attempts`` failures (exponential, capped)."""
        seconds = self.backoff.total_seconds() * self.factor ** max(failed_attempts - 1, 0)
        return min(timedelta(seconds=seconds), self.max_backoff)


@dataclass(frozen=True)
class Step:
    id: str
    uses: str
    with_: Mapping[str, Any]
    if_: Any | None = None
    connection: str | None = None
    retry: Retry = field(default_factory=Retry)
    timeout: timedelta | None = None
    steps: tuple[Step, ...] = ()
    # A failure (after its retries) is recorded and the run goes on: later steps read steps.<id>.status/.error.
    continue_on_error: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Trigger:
    type: str
    schedule: Schedule | None
    options: Mapping[str, Any]


@dataclass(frozen=True)
class Definition:
    trigger: Trigger
    steps: tuple[Step, ...]
    raw: Mapping[str, Any]

    def step(self, step_id: str) -> Step | None:
        return next((s for s in _walk(self.steps) if s.id == step_id), None)


def load_text(text: str) -> Any:
    """YAML (or JSON, which YAML reads too) text to data.

    Raises:
        DefinitionError: with the line of the syntax error.
    """
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise DefinitionError([Problem("", f"not valid YAML or JSON{where}: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise DefinitionError([Problem("", f"not valid YAML or JSON: {exc}")]) from None


def validate(data: Any, renderer: Renderer | None = None) -> list[Problem]:
    """Every problem in ``data``, in document order; an empty list means it can run."""
    return _Validator(renderer or Renderer()).run(data)


def parse(data: Any, renderer: Renderer | None = None) -> Definition:
    """Validate and build a Definition.

    Raises:
        DefinitionError: listing every problem.
    """
    problems = validate(data, renderer)
    if problems:
        raise DefinitionError(problems)
    trigger = data["trigger"]
    schedule = schedule_of(data)
    options = {k: v for k, v in trigger.items() if k not in ("type", "schedule")}
    return Definition(Trigger(trigger["type"], schedule, options), tuple(_step(s) for s in data["steps"]), data)


def _step(raw: Mapping[str, Any]) -> Step:
    retry = raw.get("retry") or {}
    return Step(
        id=raw["id"],
        uses=raw["uses"],
        with_=raw.get("with") or {},
        if_=raw.get("if"),
        connection=raw.get("connection"),
        retry=Retry(
            attempts=int(retry.get("attempts", 1)),
            backoff=parse_duration(retry.get("backoff", "10s")),
            factor=float(retry.get("factor", 2.0)),
            max_backoff=parse_duration(retry.get("max_backoff", "1h")),
        ),
        timeout=parse_duration(raw["timeout"]) if raw.get("timeout") is not None else None,
        steps=tuple(_step(s) for s in raw.get("steps") or ()),
        continue_on_error=raw.get("continue_on_error") is True,
        raw=raw,
    )


def _walk(steps: tuple[Step, ...]) -> list[Step]:
    return [s for step in steps for s in (step, *_walk(step.steps))]


def _is_expression(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def schedule_problems(spec: Any) -> list[Problem]:
    """The problems of a trigger's ``schedule`` mapping on its own (a form's live preview checks this)."""
    validator = _Validator(Renderer())
    validator.schedule(spec)
    return validator.problems


class _Validator:
    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer
        self.problems: list[Problem] = []
        self.seen_ids: set[str] = set()
        self.loop_of: dict[str, str] = {}  # nested step id -> id of the core.for_each it belongs to

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def run(self, data: Any) -> list[Problem]:
        if not isinstance(data, Mapping):
            self.add("", f"a definition is a mapping with 'trigger' and 'steps', not {_kind(data)}")
            return self.problems
        for key in data:
            if key not in TOP_KEYS:
                self.add(str(key), "unknown field")
        self.trigger(data.get("trigger"), data.get("steps"))
        steps = data.get("steps")
        if not isinstance(steps, list) or not steps:
            self.add("steps", "required: a list with at least one step")
        else:
            all_ids = [s.get("id") for s in _raw_walk(steps)]
            self.loop_of = _loop_members(steps)
            self.steps(steps, "steps", set(), set(filter(None, all_ids)))
        return self.problems

    def trigger(self, trigger: Any, steps: Any) -> None:
        if not isinstance(trigger, Mapping):
            self.add("trigger", "required: a mapping with a 'type'")
            return
        for key in trigger:
            if key not in TRIGGER_KEYS:
                self.add(f"trigger.{key}", "unknown field")
        kind = trigger.get("type")
        if kind not in TRIGGER_TYPES:
            self.add("trigger.type", f"must be one of {', '.join(TRIGGER_TYPES)}")
        if kind == "schedule":
            self.schedule(trigger.get("schedule"))
        elif "schedule" in trigger:
            self.add("trigger.schedule", "only a schedule trigger has a schedule")
        # verify/response/dedupe of a webhook trigger; a wait response names a top-level step.
        for path, message in hook_options.check(trigger, hook_options.top_step_ids(steps), self.renderer):
            self.add(path, message)

    def schedule(self, spec: Any) -> None:
        if not isinstance(spec, Mapping):
            self.add("trigger.schedule", "required: {cron: '0 9 * * MON-FRI', timezone: ...} or {every: '15m'}")
            return
        for key in spec:
            if key not in ("cron", "every", "timezone"):
                self.add(f"trigger.schedule.{key}", "unknown field")
        if ("cron" in spec) == ("every" in spec):
            self.add("trigger.schedule", "give exactly one of 'cron' or 'every'")
        if "cron" in spec:
            reason = cron_problem(spec["cron"])
            if reason:
                self.add("trigger.schedule.cron", reason)
        if "every" in spec:
            try:
                if parse_duration(spec["every"]) < timedelta(seconds=1):
                    self.add("trigger.schedule.every", "must be at least 1s")
            except DurationError as exc:
                self.add("trigger.schedule.every", str(exc))
        timezone = spec.get("timezone", "UTC")
        try:
            zoneinfo.ZoneInfo(str(timezone))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            self.add("trigger.schedule.timezone", f"unknown time zone {timezone!r} (use a name like Europe/Berlin)")

    def steps(self, steps: list[Any], path: str, earlier: set[str], all_ids: set[str], loop: str | None = None) -> None:
        """``loop`` is the id of the core.for_each these steps are nested in, None at the top level."""
        visible = set(earlier)
        for index, raw in enumerate(steps):
            where = f"{path}[{index}]"
            if not isinstance(raw, Mapping):
                self.add(where, f"a step is a mapping with 'id' and 'uses', not {_kind(raw)}")
                continue
            self.step(raw, where, visible, all_ids, loop)
            if isinstance(raw.get("id"), str):
                visible.add(raw["id"])

    def step(self, raw: Mapping[str, Any], where: str, earlier: set[str], all_ids: set[str],
             loop: str | None = None) -> None:
        for key in raw:
            if key not in STEP_KEYS:
                self.add(f"{where}.{key}", "unknown field")
        step_id = raw.get("id")
        if not isinstance(step_id, str) or not STEP_ID.match(step_id):
            self.add(f"{where}.id", "required: lowercase letters, digits and _, starting with a letter")
        elif step_id in self.seen_ids:
            self.add(f"{where}.id", f"duplicate step id {step_id!r}")
        else:
            self.seen_ids.add(step_id)
        uses = raw.get("uses")
        found = registry.find_action(uses) if isinstance(uses, str) else None
        if not isinstance(uses, str):
            self.add(f"{where}.uses", "required: an action such as slack.post_message")
        elif found is None:
            self.add(f"{where}.uses", _unknown_action(uses))
        inputs = raw.get("with", {})
        if not isinstance(inputs, Mapping):
            self.add(f"{where}.with", f"must be a mapping, not {_kind(inputs)}")
            inputs = {}
        if found is not None:
            self.inputs(inputs, found[1].input_schema, f"{where}.with")
            self.connection(raw, found[0].connection_type, uses, where)
        if uses == "core.delay" and isinstance(inputs.get("for"), str) and not _is_expression(inputs["for"]):
            try:
                parse_duration(inputs["for"])
            except DurationError as exc:
                self.add(f"{where}.with.for", str(exc))
        self.policies(raw, where)
        if "continue_on_error" in raw:
            if not isinstance(raw["continue_on_error"], bool):
                self.add(f"{where}.continue_on_error", "must be true or false")
            elif loop is not None:
                self.add(f"{where}.continue_on_error", "not inside core.for_each: a failed item is reported in the "
                                                       "loop's output and fails the loop")
        for key in ("with", "if", "connection"):
            if key in raw:
                self.expressions(raw[key], f"{where}.{key}", earlier, all_ids, loop)
        if loop is not None and isinstance(uses, str) and uses in NOT_IN_LOOP:
            self.add(f"{where}.uses", f"{uses} cannot run inside core.for_each: {NOT_IN_LOOP[uses]}")
        nested = raw.get("steps")
        if uses == "core.for_each":
            self.loop(raw, where, earlier, all_ids)
        elif nested is not None:
            self.add(f"{where}.steps", "only core.for_each has nested steps")

    def loop(self, raw: Mapping[str, Any], where: str, earlier: set[str], all_ids: set[str]) -> None:
        # Retries and time limits belong to the nested steps: each item's attempts are recorded and retried
        # on their own, so the loop as a whole has neither.
        for key in ("retry", "timeout"):
            if raw.get(key) is not None:
                self.add(f"{where}.{key}", f"core.for_each has no {key} of its own; give its nested steps one")
        nested = raw.get("steps")
        if not isinstance(nested, list) or not nested:
            self.add(f"{where}.steps", "required: a list with at least one step")
        elif isinstance(raw.get("id"), str):
            self.steps(nested, f"{where}.steps", earlier, all_ids, raw["id"])

    def connection(self, raw: Mapping[str, Any], connection_type: str | None, uses: str, where: str) -> None:
        reference = raw.get("connection")
        if connection_type is None and reference is not None:
            self.add(f"{where}.connection", f"{uses} does not use a connection")
        elif connection_type is not None and (not isinstance(reference, str) or not reference.strip()):
            self.add(f"{where}.connection", f"required: the name of a {connection_type} connection for {uses}")

    def inputs(self, inputs: Mapping[str, Any], schema: Mapping[str, Any], where: str) -> None:
        validator = jsonschema.Draft202012Validator(schema)
        for error in sorted(validator.iter_errors(dict(inputs)), key=lambda e: list(e.absolute_path)):
            if _is_expression(error.instance) and error.validator in EXPRESSION_DEFERRED:
                continue  # an expression may render to any type; it is checked when it runs
            path = where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
            if error.validator == "required":
                missing = re.search(r"'([^']+)' is a required property", error.message)
                self.add(f"{path}.{missing.group(1)}" if missing else path, "required")
            elif error.validator == "additionalProperties":
                extra = sorted(set(error.instance) - set(schema.get("properties", {})))
                for name in extra:
                    self.add(f"{path}.{name}", "unknown field")
            else:
                self.add(path, error.message)

    def policies(self, raw: Mapping[str, Any], where: str) -> None:
        retry = raw.get("retry")
        if retry is not None:
            if not isinstance(retry, Mapping):
                self.add(f"{where}.retry", "must be a mapping like {attempts: 3, backoff: 10s}")
            else:
                for key in retry:
                    if key not in ("attempts", "backoff", "factor", "max_backoff"):
                        self.add(f"{where}.retry.{key}", "unknown field")
                attempts = retry.get("attempts", 1)
                if not isinstance(attempts, int) or isinstance(attempts, bool) or not 1 <= attempts <= 10:
                    self.add(f"{where}.retry.attempts", "must be a whole number from 1 to 10")
                factor = retry.get("factor", 2.0)
                if not isinstance(factor, int | float) or isinstance(factor, bool) or factor < 1:
                    self.add(f"{where}.retry.factor", "must be a number of at least 1")
                for key in ("backoff", "max_backoff"):
                    if key in retry:
                        self.duration(retry[key], f"{where}.retry.{key}")
        if raw.get("timeout") is not None:
            timeout = self.duration(raw["timeout"], f"{where}.timeout")
            if timeout is not None and not timedelta(0) < timeout <= MAX_TIMEOUT:
                self.add(f"{where}.timeout", "must be more than 0s and at most 1h")

    def duration(self, value: Any, path: str) -> timedelta | None:
        try:
            return parse_duration(value)
        except DurationError as exc:
            self.add(path, str(exc))
            return None

    def expressions(self, value: Any, path: str, earlier: set[str], all_ids: set[str], loop: str | None) -> None:
        for problem in self.renderer.check(value, path):
            location, _, message = problem.partition(": ")
            self.add(location, message)
        for location, text in _strings(value, path):
            for ref in sorted(self.renderer.step_references(text)):
                if ref in earlier:
                    continue
                owner = self.loop_of.get(ref)
                if owner is not None and owner != loop:
                    self.add(location, f"refers to step {ref!r} inside core.for_each {owner!r}; outside the loop "
                                       f"read its results as steps.{owner}.output.items")
                elif ref in all_ids:
                    self.add(location, f"refers to step {ref!r} which runs after this one")
                else:
                    self.add(location, f"refers to unknown step {ref!r}")
            if loop is None:
                for name in sorted(self.undeclared(text) & LOOP_NAMES):
                    self.add(location, f"{name!r} exists only in the nested steps of a core.for_each")

    def undeclared(self, text: str) -> set[str]:
        """Names ``text`` reads from the run's context (not ones it sets itself, like a {% for %} variable)."""
        try:
            return meta.find_undeclared_variables(self.renderer.env.parse(text))
        except TemplateSyntaxError:
            return set()  # reported by Renderer.check


def _strings(value: Any, path: str) -> list[tuple[str, str]]:
    if isinstance(value, Mapping):
        return [s for k, v in value.items() for s in _strings(v, f"{path}.{k}")]
    if isinstance(value, list | tuple):
        return [s for i, v in enumerate(value) for s in _strings(v, f"{path}[{i}]")]
    return [(path, value)] if _is_expression(value) else []


def _loop_members(steps: list[Any]) -> dict[str, str]:
    return {
        child["id"]: raw["id"]
        for raw in steps
        if isinstance(raw, Mapping) and raw.get("uses") == "core.for_each" and isinstance(raw.get("id"), str)
        and isinstance(raw.get("steps"), list)
        for child in _raw_walk(raw["steps"])
        if isinstance(child.get("id"), str)
    }


def _raw_walk(steps: list[Any]) -> list[Mapping[str, Any]]:
    found: list[Mapping[str, Any]] = []
    for raw in steps:
        if isinstance(raw, Mapping):
            found.append(raw)
            if isinstance(raw.get("steps"), list):
                found.extend(_raw_walk(raw["steps"]))
    return found


def _unknown_action(uses: str) -> str:
    names = [a["uses"] for c in registry.connectors() for a in c.to_dict()["actions"]]
    close = difflib.get_close_matches(uses, names, n=1)
    return f"unknown action {uses!r}" + (f" (did you mean {close[0]!r}?)" if close else "")


def _kind(value: Any) -> str:
    return {list: "a list", str: "text", type(None): "nothing"}.get(type(value), type(value).__name__)

