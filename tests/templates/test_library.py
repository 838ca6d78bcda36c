"""The template library as shipped: sixteen files, each documented for the people filling in its form, checked by
``relay templates validate``, and packaged so an installed Relay finds them."""

from __future__ import annotations

import json
import tomllib
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner

from automation import template_checks
from automation.cli import cli
from automation.templates import library, template_files

ROOT = Path(__file__).resolve().parents[2]
KEYS = ["lead-to-slack", "welcome-series", "order-shipped-sms", "appointment-reminders", "daily-digest",
        "weekly-teams-report", "uptime-monitor", "incident-paging", "payment-failed", "ticket-triage",
        "expense-approval", "deploy-announcement", "webhook-relay", "invoice-reminders", "standup-reminder",
        "low-stock-alert"]


def test_the_library_is_exactly_the_sixteen_templates_one_file_each() -> None:
    files = sorted(entry.name for entry in resources.files("templates_library").iterdir()
                   if entry.name.endswith(".yaml"))

    assert files == sorted(f"{key}.yaml" for key in KEYS)
    assert sorted(library()) == sorted(KEYS)


@pytest.mark.parametrize("key", KEYS)
def test_every_template_and_parameter_is_described_for_its_form(key: str) -> None:
    template = library()[key]

    assert template.description.endswith(".") and len(template.description) <= 200
    assert template.category and template.icon and template.connectors
    for parameter in template.parameters:
        assert parameter.label and parameter.help.endswith("."), parameter.name
        assert parameter.example is not None, parameter.name
    # What a sender must post, or what a fetched address must answer, is shown with an example.
    reads_fetched_json = ".output.json" in json.dumps(template.definition)
    assert (template.example_request is not None) == (template.trigger_type == "webhook")
    assert (template.example_response is not None) == reads_fetched_json


def test_relay_templates_validate_passes_every_template_with_a_line_each() -> None:
    result = CliRunner().invoke(cli, ["templates", "validate"])

    marks = {line[2:]: line[0] for line in result.output.splitlines() if line[:1] in "✓✗" and line[1:2] == " "}
    assert marks == dict.fromkeys(KEYS, "✓")
    assert result.exit_code == 0


def test_relay_templates_validate_names_each_problem_of_a_broken_template(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = template_files()[0][1].replace("type: url", "type: link", 1).replace("example: ", "examples: ", 1)
    monkeypatch.setattr(template_checks, "template_files", lambda: [("broken", broken)])

    result = CliRunner().invoke(cli, ["templates", "validate"])

    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == "✗ broken"
    assert "    key: must be 'broken', the file's name, in lowercase letters, digits and dashes" in lines
    assert any("type: must be one of string, text, number" in line for line in lines)
    assert any(line.endswith(".examples: unknown field") for line in lines)
    assert lines[-1] == "0 of 1 templates are valid"


def test_the_templates_ship_with_the_package() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]

    assert "templates_library" in setuptools["packages"]["find"]["include"]
    assert setuptools["package-data"]["templates_library"] == ["*.yaml"]
