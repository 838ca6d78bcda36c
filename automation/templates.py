"""The template library: the sixteen YAML files of ``templates_library/``, read into ``Template`` objects with
every problem of a file reported at once and a path (``parameters[2].default: ...``).

The files ship inside the ``templates_library`` package and are read through ``importlib.resources``, so a
checkout, an editable install and a wheel all find them the same way. Instantiating a template (params into a
workflow) is ``automation.template_instances``, and the whole static check that ``relay templates validate``
runs is ``automation.template_checks``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml
from jinja2 import TemplateSyntaxError, nodes

from automation.definitions import Problem
from automation.expressions import Renderer
from automation.template_params import CONNECTION_PREFIX, TYPES, Choice, Parameter, ValueProblem, normalise
from integrations.registry import find_connection_type

log = logging.getLogger(__name__)

PACKAGE = "templates_library"
KEY = re.compile(r"^[a-z][a-z0-9-]{1,62}$")
PARAMETER_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
TEMPLATE_KEYS = frozenset({"key", "name", "description", "category", "icon", "parameters", "definition",
                           "example_request", "example_response"})
PARAMETER_KEYS = frozenset({"name", "label", "help", "type", "required", "default", "choices", "example", "min",
                            "max", "integer", "pattern"})
MAX_LINE = 200


@dataclass(frozen=True)
class Template:
    """A template: what the gallery shows, the form's parameters, and the workflow definition using
    ``{{ params.* }}``. ``example_request`` is the webhook body it expects, ``example_response`` the JSON its
    fetched address should answer (documentation that the tests run)."""

    key: str
    name: str
    description: str
    category: str
    icon: str
    parameters: tuple[Parameter, ...]
    definition: Mapping[str, Any]
    example_request: Any = None
    example_response: Any = None

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)

    @property
    def trigger_type(self) -> str:
        return str((self.definition.get("trigger") or {}).get("type", ""))

    @property
    def connectors(self) -> list[str]:
        """Keys of the connectors its steps use (``core`` is Relay itself, not a connector to set up)."""
        used = {str(step.get("uses", "")).partition(".")[0] for step in walk_steps(self.definition.get("steps"))}
        return sorted(used - {"core", ""})

    def examples(self) -> dict[str, Any]:
        return {p.name: p.example for p in self.parameters}

    def to_dict(self, *, detail: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "key": self.key, "name": self.name, "description": self.description, "category": self.category,
            "icon": self.icon, "trigger": self.trigger_type, "connectors": self.connectors,
            "parameters": [p.to_dict() for p in self.parameters],
        }
        if detail:
            data.update(definition=self.definition, example_request=self.example_request,
                        example_response=self.example_response)
        return data


class TemplateInvalid(ValueError):
    """A template file with problems; ``problems`` lists all of them."""

    def __init__(self, key: str, problems: list[Problem]) -> None:
        super().__init__(f"template {key}: " + "; ".join(str(p) for p in problems))
        self.key = key
        self.problems = problems


def template_files() -> list[tuple[str, str]]:
    """``(key, text)`` of every ``*.yaml`` file of the library, by key."""
    folder = resources.files(PACKAGE)
    found = [(entry.name.removesuffix(".yaml"), entry.read_text(encoding="utf-8"))
             for entry in folder.iterdir() if entry.name.endswith(".yaml")]
    return sorted(found)


def load(key: str, text: str) -> Template:
    """Read one template file (``key`` is its file name without ``.yaml``).

    Raises:
        TemplateInvalid: with every problem of its structure, parameters and examples.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TemplateInvalid(key, [Problem("", f"not valid YAML: {exc}")]) from None
    reader = _Reader()
    template = reader.template(data, key)
    if reader.problems or template is None:
        raise TemplateInvalid(key, reader.problems)
    return template


@lru_cache(maxsize=1)
def library() -> dict[str, Template]:
    """Every usable template by key, read once per process. A broken file is logged and left out, so one bad
    file does not take the gallery down (``relay templates validate`` and the tests name it)."""
    templates: dict[str, Template] = {}
    for key, text in template_files():
        try:
            templates[key] = load(key, text)
        except TemplateInvalid as exc:
            log.error("%s", exc)
    return templates


def walk_steps(steps: Any) -> Iterator[Mapping[str, Any]]:
    """Every step mapping of an unvalidated ``steps`` list, nested ``core.for_each`` steps included."""
    for step in steps if isinstance(steps, list) else ():
        if isinstance(step, Mapping):
            yield step
            yield from walk_steps(step.get("steps"))


def param_references(value: Any, renderer: Renderer) -> set[str]:
    """Names ``value`` reads as ``params.x`` or ``params['x']``, in every string it holds."""
    if isinstance(value, Mapping):
        return set().union(*(param_references(v, renderer) for v in value.values()))
    if isinstance(value, list | tuple):
        return set().union(*(param_references(v, renderer) for v in value))
    if not isinstance(value, str) or ("{{" not in value and "{%" not in value):
        return set()
    try:
        tree = renderer.env.parse(value)
    except TemplateSyntaxError:
        return set()  # the definition's validation reports the syntax error with its place
    found: set[str] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node.node, nodes.Name) and node.node.name == "params":
            if isinstance(node, nodes.Getattr):
                found.add(node.attr)
            elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                found.add(node.arg.value)
    return found


class _Reader:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def template(self, data: Any, key: str) -> Template | None:
        if not isinstance(data, Mapping):
            self.add("", "a template is a mapping with key, name, description, parameters and definition")
            return None
        for extra in sorted(set(map(str, data)) - TEMPLATE_KEYS):
            self.add(extra, "unknown field")
        if data.get("key") != key or not KEY.match(key):
            self.add("key", f"must be {key!r}, the file's name, in lowercase letters, digits and dashes")
        texts = {field: self.line(data.get(field), field) for field in ("name", "description", "category", "icon")}
        parameters = self.parameters(data.get("parameters"))
        definition = data.get("definition")
        if not isinstance(definition, Mapping):
            self.add("definition", "required: the workflow definition, with trigger and steps")
            return None
        return Template(key, texts["name"], texts["description"], texts["category"], texts["icon"], parameters,
                        definition, data.get("example_request"), data.get("example_response"))

    def line(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not value.strip() or "\n" in value.strip() or len(value) > MAX_LINE:
            self.add(path, f"required: one line of text, at most {MAX_LINE} characters")
            return ""
        return value.strip()

    def parameters(self, value: Any) -> tuple[Parameter, ...]:
        if not isinstance(value, list):
            self.add("parameters", "required: a list of parameters")
            return ()
        found: list[Parameter] = []
        for index, raw in enumerate(value):
            parameter = self.parameter(raw, f"parameters[{index}]")
            if parameter is None:
                continue
            if any(p.name == parameter.name for p in found):
                self.add(f"parameters[{index}].name", f"duplicate parameter {parameter.name!r}")
            found.append(parameter)
        return tuple(found)

    def parameter(self, raw: Any, where: str) -> Parameter | None:
        if not isinstance(raw, Mapping):
            self.add(where, "a parameter is a mapping with name, label, help, type and example")
            return None
        for extra in sorted(set(map(str, raw)) - PARAMETER_KEYS):
            self.add(f"{where}.{extra}", "unknown field")
        name = raw.get("name")
        if not isinstance(name, str) or not PARAMETER_NAME.match(name):
            self.add(f"{where}.name", "required: lowercase letters, digits and _, starting with a letter")
            return None
        kind = self.kind(raw.get("type"), f"{where}.type")
        required = raw.get("required", False)
        if not isinstance(required, bool):
            self.add(f"{where}.required", "must be true or false")
        parameter = Parameter(
            name=name, label=self.line(raw.get("label"), f"{where}.label"),
            help=self.line(raw.get("help"), f"{where}.help"), type=kind, required=required is True,
            choices=self.choices(raw.get("choices"), kind, f"{where}.choices"),
            minimum=self.number_option(raw, "min", kind, where), maximum=self.number_option(raw, "max", kind, where),
            integer=self.option(raw, "integer", kind == "number", bool, where) or False,
            pattern=self.option(raw, "pattern", kind == "string", str, where),
        )
        if parameter.pattern is not None:
            try:
                re.compile(parameter.pattern)
            except re.error as exc:
                self.add(f"{where}.pattern", f"not a valid regular expression: {exc}")
                return None
        example = self.value(parameter, raw.get("example"), f"{where}.example")
        default = self.value(parameter, raw["default"], f"{where}.default") if raw.get("default") is not None else None
        return replace(parameter, example=example, default=default)

    def kind(self, value: Any, path: str) -> str:
        if value in TYPES:
            return str(value)
        if isinstance(value, str) and value.startswith(CONNECTION_PREFIX):
            if find_connection_type(value.removeprefix(CONNECTION_PREFIX)) is not None:
                return value
        self.add(path, f"must be one of {', '.join(TYPES)} or connection:<connection type>")
        return "string"

    def choices(self, value: Any, kind: str, path: str) -> tuple[Choice, ...]:
        if kind != "select":
            if value is not None:
                self.add(path, "only a select parameter has choices")
            return ()
        if not isinstance(value, list) or not value:
            self.add(path, "required: a list of {value, label}")
            return ()
        found: list[Choice] = []
        for index, item in enumerate(value):
            if not isinstance(item, Mapping) or set(item) != {"value", "label"} or not all(
                    isinstance(item[k], str) and item[k].strip() for k in ("value", "label")):
                self.add(f"{path}[{index}]", "must be {value: <text>, label: <text>}")
            elif any(c.value == item["value"] for c in found):
                self.add(f"{path}[{index}].value", f"duplicate choice {item['value']!r}")
            else:
                found.append(Choice(item["value"], item["label"]))
        return tuple(found)

    def number_option(self, raw: Mapping[str, Any], name: str, kind: str, where: str) -> float | None:
        value = self.option(raw, name, kind == "number", int | float, where)
        return None if isinstance(value, bool) else value

    def option(self, raw: Mapping[str, Any], name: str, allowed: bool, expected: Any, where: str) -> Any:
        if name not in raw:
            return None
        if not allowed:
            self.add(f"{where}.{name}", "not an option of this parameter's type")
            return None
        if not isinstance(raw[name], expected):
            self.add(f"{where}.{name}", "has the wrong type")
            return None
        return raw[name]

    def value(self, parameter: Parameter, value: Any, path: str) -> Any:
        if value is None:
            self.add(path, "required: a value of the parameter's type")
            return None
        try:
            return normalise(parameter, value)
        except ValueProblem as exc:
            self.add(path, str(exc))
            return None
