"""The setup form of a template, built from its parameters: one input per parameter of a type that suits it,
the values a person typed turned into the params ``template_instances`` checks, and every problem it reports
put back next to the field it belongs to. No request handling here (that is ``pages/gallery.py``)."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from automation import workflows
from automation.definitions import DefinitionError, Problem, schedule_problems
from automation.models import Connection, db, utcnow
from automation.schedules import describe, schedule_of, upcoming
from automation.template_instances import instantiate, workspace_lookup
from automation.template_params import NOT_ZONES, Parameter
from automation.templates import Template
from integrations.registry import connectors, find_connection_type

PREFIX = "param-"  # form field of a parameter: never the same as ``name`` or ``publish``, whatever it is called
INPUT_TYPES = {"string": "text", "text": "textarea", "number": "number", "email": "email", "phone": "tel",
               "url": "url", "time": "time", "timezone": "select", "cron": "text", "select": "select"}
HINTS = {
    "phone": "International form: a plus, the country code, then the number, like +14155550123.",
    "cron": "Five fields: minute, hour, day of month, month, day of week, like 0 9 * * MON-FRI.",
    "url": "A web address starting with https://",
}
PREVIEW_RUNS = 5


@dataclass
class SetupField:
    """One input of the setup form, ready for the ``field`` macro, plus what a connection or cron field
    shows next to it."""

    parameter: Parameter
    value: Any
    input_type: str
    help: str
    attrs: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    connection_type: str | None = None  # connection:<type>: the type's key ...
    connection_title: str = ""  # ... its name for people ...
    connection_count: int = 0  # ... and how many the workspace has
    preview: SchedulePreview | None = None

    @property
    def name(self) -> str:
        return PREFIX + self.parameter.name


@dataclass(frozen=True)
class SchedulePreview:
    """A schedule in words and its next runs, in its own time zone."""

    description: str
    next_runs: list[datetime]

    def to_dict(self) -> dict[str, Any]:
        return {"description": self.description, "next_runs": [moment.isoformat() for moment in self.next_runs],
                "next_runs_text": [run_text(moment) for moment in self.next_runs]}


def run_text(moment: datetime) -> str:
    """``Mon 3 Mar 2025, 09:45`` (in the moment's own time zone)."""
    return f"{moment:%a} {moment.day} {moment:%b %Y, %H:%M}"


def schedule_preview(spec: Mapping[str, str]) -> tuple[SchedulePreview | None, list[Problem]]:
    """The preview of a trigger's ``schedule`` mapping (``cron`` + ``timezone``, or ``every``), or its problems."""
    problems = schedule_problems(dict(spec))
    if problems:
        return None, problems
    schedule = schedule_of({"trigger": {"type": "schedule", "schedule": dict(spec)}})
    assert schedule is not None, "a valid schedule spec always gives a schedule"
    zone = ZoneInfo(schedule.timezone)
    runs = [moment.astimezone(zone) for moment in upcoming(schedule, utcnow(), PREVIEW_RUNS)]
    return SchedulePreview(describe(schedule), runs), []


@lru_cache(maxsize=1)
def timezone_options() -> tuple[tuple[str, str], ...]:
    """Every IANA zone a timezone parameter accepts, as ``(value, label)`` options, by name."""
    names = sorted(zoneinfo.available_timezones() - NOT_ZONES | {"UTC"})
    return tuple((name, name.replace("_", " ")) for name in names)


def connector_titles(keys: Iterable[str]) -> list[str]:
    """People's names of the connectors ``keys`` (``slack`` → ``Slack``), in the given order."""
    titles = {connector.key: connector.title for connector in connectors()}
    return [titles.get(key, key) for key in keys]


def saved_connections(workspace_id: int, connection_type: str) -> list[str]:
    """Names of the workspace's connections of ``connection_type``, by name."""
    return list(db.session.scalars(
        sa.select(Connection.name).where(Connection.workspace_id == workspace_id,
                                         Connection.connector == connection_type).order_by(Connection.name)
    ))


def build_fields(template: Template, workspace_id: int, submitted: Mapping[str, str] | None,
                 problems: Iterable[Problem] = ()) -> list[SetupField]:
    """The form's parameter fields: the submitted values (or the defaults on a first visit) with their errors."""
    errors = field_errors(template, problems)
    zone = next((p for p in template.parameters if p.type == "timezone"), None)
    fields = []
    for parameter in template.parameters:
        if submitted is None:
            value: Any = parameter.default if parameter.default is not None else ""
        else:
            value = submitted.get(PREFIX + parameter.name, "")
        setup = SetupField(parameter, value, INPUT_TYPES.get(parameter.type, "select"),
                           " ".join(filter(None, (parameter.help, HINTS.get(parameter.type, "")))),
                           errors=errors.get(parameter.name, []))
        _complete(setup, workspace_id, zone, submitted)
        fields.append(setup)
    return fields


def _complete(setup: SetupField, workspace_id: int, zone: Parameter | None,
              submitted: Mapping[str, str] | None) -> None:
    """The type-specific part of a field: bounds, options, connections, schedule preview."""
    parameter = setup.parameter
    if parameter.type == "number":
        setup.attrs["step"] = "1" if parameter.integer else "any"
        setup.attrs.update({k: f"{v:g}" for k, v in (("min", parameter.minimum), ("max", parameter.maximum))
                            if v is not None})
    elif parameter.type == "timezone":
        setup.value = setup.value or "UTC"
        setup.attrs["options"] = timezone_options()
    elif parameter.type == "select":
        blank = [] if parameter.required and parameter.default is not None else [("", "Choose one")]
        setup.attrs["options"] = blank + [(choice.value, choice.label) for choice in parameter.choices]
    elif parameter.type == "phone":
        setup.attrs.update(placeholder="+14155550123", autocomplete="tel")
    elif parameter.type == "cron":
        _cron(setup, zone, submitted)
    elif parameter.connection_type is not None:
        _connection(setup, workspace_id, parameter.connection_type)


def _cron(setup: SetupField, zone: Parameter | None, submitted: Mapping[str, str] | None) -> None:
    """A cron field previews its schedule in the form's time zone (the first timezone parameter, else UTC)."""
    setup.attrs.update({"data-schedule-preview": f"f-{setup.name}-preview", "spellcheck": "false",
                        "autocomplete": "off"})
    timezone = "UTC"
    if zone is not None:
        setup.attrs["data-timezone-field"] = f"f-{PREFIX}{zone.name}"
        timezone = (submitted or {}).get(PREFIX + zone.name) if submitted is not None else zone.default
    if isinstance(setup.value, str) and setup.value.strip() and not setup.errors:
        setup.preview, _ = schedule_preview({"cron": setup.value, "timezone": timezone or "UTC"})


def _connection(setup: SetupField, workspace_id: int, connection_type: str) -> None:
    names = saved_connections(workspace_id, connection_type)
    kind = find_connection_type(connection_type)
    setup.connection_type = connection_type
    setup.connection_title = kind.title if kind is not None else connection_type
    setup.connection_count = len(names)
    if not setup.value and len(names) == 1:
        setup.value = names[0]
    setup.attrs["options"] = [("", "Choose a connection" if names else "No saved connections yet")] + [
        (name, name) for name in names]


def field_errors(template: Template, problems: Iterable[Problem]) -> dict[str, list[str]]:
    """The messages of ``params.<name>`` problems by parameter name (only parameters the template has)."""
    found: dict[str, list[str]] = {}
    for problem in problems:
        name = problem.path.removeprefix("params.")
        if problem.path.startswith("params.") and template.parameter(name) is not None:
            found.setdefault(name, []).append(problem.message)
    return found


def general_errors(template: Template, problems: Iterable[Problem]) -> list[str]:
    """Problems that belong to no single field of the form, as ``path: message`` lines."""
    return [f"{problem.path}: {problem.message}" if problem.path else problem.message for problem in problems
            if problem.path != "name" and not (problem.path.startswith("params.")
                                                and template.parameter(problem.path[7:]) is not None)]


def given_params(template: Template, form: Mapping[str, str]) -> dict[str, str]:
    """The params to instantiate with: each parameter's text as typed, empty ones left out (an optional one
    takes its default). The backend converts and normalises types."""
    values = {p.name: (form.get(PREFIX + p.name) or "").strip() for p in template.parameters}
    return {name: value for name, value in values.items() if value}


def cleared_required(template: Template, form: Mapping[str, str]) -> list[Problem]:
    """Required fields left empty. The form starts with the defaults filled in, so an empty one was cleared on
    purpose: say it is required rather than quietly putting the default back."""
    return [Problem(f"params.{p.name}", f"required: {p.label}") for p in template.parameters
            if p.required and p.default is not None and not (form.get(PREFIX + p.name) or "").strip()]


def check_only(workspace_id: int, template: Template, name: str, given: Mapping[str, Any]) -> list[Problem]:
    """Every problem creating the workflow would report, without creating it."""
    problems: list[Problem] = []
    try:
        if name:
            workflows.check_name(name)
    except DefinitionError as exc:
        problems += exc.problems
    try:
        instantiate(template, given, workspace_lookup(workspace_id))
    except DefinitionError as exc:
        problems += exc.problems
    return problems
