"""Turning a template and the params of its form into a workflow: check every param at once, render the parts
of the definition that are read without rendering, create (and publish) the workflow, and re-instantiate it
when only its params change later.

What is rendered when: the ``trigger`` block and each step's ``timeout`` and ``retry`` are rendered with the
params at instantiation, because the scheduler, the webhook endpoint and the engine read them as literal
values (``schedule.cron``, ``every``, ``verify.header``, a step's time limit). Everything else keeps its
``{{ params.* }}`` and is rendered at run time from the params stored with the version.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from automation import connections, workflows
from automation.definitions import DefinitionError, Problem, validate
from automation.expressions import ExpressionError, Renderer
from automation.models import Workflow
from automation.template_params import ValueProblem, normalise, typed
from automation.templates import Template, library, param_references

# A connection reference to (its saved name, its connection type), or None when there is no such connection.
ConnectionLookup = Callable[[str], tuple[str, str] | None]
STRUCTURAL_STEP_FIELDS = ("timeout", "retry")


@dataclass(frozen=True)
class Instance:
    """A template's definition with its structural fields rendered, and the checked params stored with it."""

    definition: dict[str, Any]
    params: dict[str, Any]


def instantiate(template: Template, given: Mapping[str, Any], lookup: ConnectionLookup | None) -> Instance:
    """Check ``given`` against the template's parameters and build the definition.

    ``lookup`` finds connections in the caller's workspace; None skips that check (a template's own check,
    which has no workspace).

    Raises:
        DefinitionError: every problem, as ``params.<name>`` (or ``definition.<path>`` for a fault of the
            template itself).
    """
    params, problems = check_params(template, given, lookup)
    if problems:
        raise DefinitionError(problems)
    definition, sources, problems = _render_structure(template, params)
    problems = problems or validate(definition)
    if problems:
        raise DefinitionError(_blame_params(problems, sources))
    return Instance(definition, params)


def check_params(template: Template, given: Mapping[str, Any], lookup: ConnectionLookup | None) -> tuple[
        dict[str, Any], list[Problem]]:
    """The params to store (defaults applied, optional ones left empty as None) and every problem."""
    problems = [Problem(f"params.{name}", "unknown parameter; this template has: "
                        + ", ".join(p.name for p in template.parameters))
                for name in given if template.parameter(name) is None]
    params: dict[str, Any] = {}
    for parameter in template.parameters:
        value = given.get(parameter.name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if parameter.default is None and parameter.required:
                problems.append(Problem(f"params.{parameter.name}", f"required: {parameter.label}"))
            params[parameter.name] = parameter.default
            continue
        try:
            value = normalise(parameter, value)
        except ValueProblem as exc:
            problems.append(Problem(f"params.{parameter.name}", str(exc)))
            continue
        if parameter.connection_type is not None and lookup is not None:
            found = lookup(value)
            problem = _connection_problem(value, found, parameter.connection_type)
            if problem is not None:
                problems.append(Problem(f"params.{parameter.name}", problem))
                continue
            value = found[0] if found else value
        params[parameter.name] = value
    return params, problems


def _connection_problem(reference: str, found: tuple[str, str] | None, wanted: str) -> str | None:
    if found is None:
        return f"no connection named {reference!r} in this workspace; create a {wanted} connection first"
    if found[1] != wanted:
        return f"{found[0]!r} is a {found[1]} connection; this needs a {wanted} connection"
    return None


def workspace_lookup(workspace_id: int) -> ConnectionLookup:
    def lookup(reference: str) -> tuple[str, str] | None:
        connection = connections.find(workspace_id, reference)
        return (connection.name, connection.connector) if connection is not None else None

    return lookup


def create_from_template(workspace_id: int, key: Any, name: Any, given: Mapping[str, Any] | None, *,
                         author_id: int | None, publish: bool) -> Workflow:
    """A new workflow from the template ``key`` (named like the template unless ``name`` is given).

    Everything is checked before anything is written, and the workflow and its first version are one commit;
    publishing runs the same checks again, and if it refuses (a connection deleted in between) the new
    workflow is deleted again, so a refused request leaves nothing behind.

    Raises:
        DefinitionError: every problem of the template key, the name and the params together.
    """
    problems: list[Problem] = []
    template = library().get(key) if isinstance(key, str) else None
    if template is None:
        problems.append(Problem("template", f"no template {key!r}; GET /api/v1/templates lists them"))
    if name is None and template is not None:
        name = template.name
    if name is not None:  # an unknown template without a name leaves nothing to check
        try:
            name = workflows.check_name(name)
        except DefinitionError as exc:
            problems += exc.problems
    instance = None
    if template is not None:
        try:
            instance = instantiate(template, given or {}, workspace_lookup(workspace_id))
        except DefinitionError as exc:
            problems += exc.problems
    if problems or template is None or instance is None:
        raise DefinitionError(problems)
    workflow = workflows.create_workflow(workspace_id, name, instance.definition, params=instance.params,
                                         author_id=author_id, template_key=template.key)
    if publish:
        try:
            workflows.publish(workflow, actor_id=author_id)
        except DefinitionError:
            workflows.delete_workflow(workflow, actor_id=author_id)
            raise
    return workflow


def reinstantiate(workflow: Workflow, changes: Mapping[str, Any]) -> Instance:
    """The definition and params of a template workflow after a params-only edit: ``changes`` over the latest
    version's params (``None`` puts a parameter back to its default), rendered from the template as it is now,
    so a new time moves the schedule. Params the template no longer has are dropped.

    Raises:
        DefinitionError: the params have problems, or the template is gone.
    """
    template = library().get(workflow.template_key or "")
    if template is None:
        raise DefinitionError([Problem("params", f"the template {workflow.template_key!r} this workflow was made "
                                                 "from is no longer available; change its definition instead")])
    stored = workflows.latest_version(workflow).params or {}
    merged = {name: value for name, value in stored.items() if template.parameter(name) is not None}
    merged.update(changes)
    return instantiate(template, {k: v for k, v in merged.items() if v is not None},
                       workspace_lookup(workflow.workspace_id))


def _render_structure(template: Template, params: Mapping[str, Any]) -> tuple[
        dict[str, Any], dict[str, set[str]], list[Problem]]:
    """The definition with its structural fields rendered; for each rendered path, the params it read."""
    renderer = Renderer()
    context = {"params": {p.name: typed(p, params.get(p.name)) for p in template.parameters}}
    sources: dict[str, set[str]] = {}
    problems: list[Problem] = []

    def render(value: Any, path: str) -> Any:
        if isinstance(value, Mapping):
            return {k: render(v, f"{path}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [render(v, f"{path}[{i}]") for i, v in enumerate(value)]
        if not isinstance(value, str) or ("{{" not in value and "{%" not in value):
            return value
        sources[path] = param_references(value, renderer)
        try:
            rendered = renderer.render(value, context, path)
        except ExpressionError as exc:
            problems.append(Problem(exc.location, exc.message))
            return value
        if isinstance(rendered, str) and ("{{" in rendered or "{%" in rendered):
            # The hook endpoint renders verify.connection again: a param must not smuggle in an expression.
            problems.append(Problem(path, "must not contain {{ or {%"))
        return rendered

    definition = copy.deepcopy(dict(template.definition))
    definition["trigger"] = render(definition.get("trigger"), "trigger")

    def steps(items: Any, path: str) -> None:
        for index, step in enumerate(items if isinstance(items, list) else ()):
            if isinstance(step, dict):
                for field in STRUCTURAL_STEP_FIELDS:
                    if field in step:
                        step[field] = render(step[field], f"{path}[{index}].{field}")
                steps(step.get("steps"), f"{path}[{index}].steps")

    steps(definition.get("steps"), "steps")
    return definition, sources, problems


def _blame_params(problems: list[Problem], sources: Mapping[str, set[str]]) -> list[Problem]:
    """Problems of rendered fields become problems of the params they were made from; the rest are the
    template's own (``definition.<path>``)."""
    blamed: list[Problem] = []
    for problem in problems:
        names = sorted({name for path, used in sources.items() if _related(path, problem.path) for name in used})
        if names:
            blamed += [Problem(f"params.{name}", problem.message) for name in names]
        else:
            blamed.append(Problem(f"definition.{problem.path}" if problem.path else "definition", problem.message))
    return list(dict.fromkeys(blamed))


def _related(rendered: str, reported: str) -> bool:
    return rendered == reported or rendered.startswith(reported + ".") or reported.startswith(rendered + ".")
