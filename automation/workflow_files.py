"""Workflows as files: export a workflow's latest version as YAML or JSON, and import one back.

An export holds the name, the template it came from, the params and the definition. Connections are
referred to by name and never carry secrets, so a file can move between workspaces and installations;
importing checks it like any new workflow and creates a draft.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from automation.definitions import DefinitionError, Problem, load_text
from automation.models import Workflow
from automation.web.request_input import storable_problem
from automation.workflows import create_workflow, latest_version

FORMAT_VERSION = 1
FILE_FIELDS = frozenset({"relay", "name", "template", "params", "definition"})


def export_data(workflow: Workflow) -> dict[str, Any]:
    version = latest_version(workflow)
    return {
        "relay": FORMAT_VERSION,
        "name": workflow.name,
        "template": workflow.template_key,
        "params": version.params or {},
        "definition": version.definition,
    }


def dump(data: dict[str, Any], file_format: str) -> str:
    if file_format == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def parse_file(text: str) -> dict[str, Any]:
    """The mapping in an exported file (YAML or JSON), checked by ``check_file``.

    Raises:
        DefinitionError: not YAML/JSON, or what ``check_file`` finds.
    """
    return check_file(load_text(text))


def check_file(data: Any) -> dict[str, Any]:
    """``data`` when it is an export Relay can import and store.

    Raises:
        DefinitionError: not a mapping, unknown fields, a newer format, or values JSON cannot hold (YAML
            turns an unquoted 2026-01-31 into a date, .nan into NaN).
    """
    if not isinstance(data, dict):
        raise DefinitionError([Problem("", "an exported workflow is a mapping with 'name' and 'definition'")])
    problems = [Problem(str(key), "unknown field") for key in data if key not in FILE_FIELDS]
    if data.get("relay", FORMAT_VERSION) != FORMAT_VERSION:
        problems.append(Problem("relay", f"format {data.get('relay')!r} is not one this Relay reads "
                                         f"({FORMAT_VERSION})"))
    if "params" in data and not isinstance(data["params"], dict):
        problems.append(Problem("params", "must be a mapping"))
    if data.get("template") is not None and not isinstance(data["template"], str):
        problems.append(Problem("template", "must be a template key"))
    try:
        json.dumps(data, allow_nan=False)
    except (TypeError, ValueError) as exc:
        problems.append(Problem("", f"holds a value that cannot be stored as JSON ({exc}); quote dates and "
                                    "times, and use finite numbers"))
    else:
        unstorable = storable_problem(data, "file")
        if unstorable:
            problems.append(Problem("", unstorable))
    if problems:
        raise DefinitionError(problems)
    return data


def import_data(workspace_id: int, data: dict[str, Any], *, author_id: int | None = None,
                name: str | None = None) -> Workflow:
    """Create a draft workflow from a parsed file. Commits.

    Raises:
        DefinitionError: every problem of the name and the definition.
    """
    return create_workflow(
        workspace_id, name or data.get("name"), data.get("definition"), params=data.get("params") or {},
        author_id=author_id, template_key=data.get("template"),
    )
