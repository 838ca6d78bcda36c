"""The static check of the template library (``relay templates validate``, and the tests): each file reads as
a template, its definition uses exactly the parameters it declares, and it instantiates into a valid
definition both with every parameter's example and with the required ones only (defaults and empty
optional parameters). Connections are not looked up: there is no workspace here.
"""

from __future__ import annotations

from dataclasses import dataclass

from automation.definitions import DefinitionError, Problem
from automation.expressions import Renderer
from automation.template_instances import instantiate
from automation.templates import Template, TemplateInvalid, load, param_references, template_files


@dataclass(frozen=True)
class Report:
    key: str
    problems: list[Problem]


def check(template: Template) -> list[Problem]:
    """Every problem of a loaded template; empty when it is ready to ship."""
    problems: list[Problem] = []
    declared = [p.name for p in template.parameters]
    used = param_references(template.definition, Renderer())
    problems += [Problem("definition", f"uses params.{name}, which is not a parameter") for name in sorted(
        used - set(declared))]
    problems += [Problem(f"parameters[{index}].name", f"{name!r} is not used by the definition")
                 for index, name in enumerate(declared) if name not in used]
    required_only = {p.name: p.example for p in template.parameters if p.required}
    for label, params in (("with every example", template.examples()), ("with the required examples only",
                                                                       required_only)):
        try:
            instantiate(template, params, lookup=None)
        except DefinitionError as exc:
            problems += [Problem(p.path, f"{p.message} ({label})") for p in exc.problems]
    return list(dict.fromkeys(problems))


def check_library() -> list[Report]:
    """One report per file of the library, by key."""
    reports: list[Report] = []
    for key, text in template_files():
        try:
            reports.append(Report(key, check(load(key, text))))
        except TemplateInvalid as exc:
            reports.append(Report(key, exc.problems))
    return reports
