"""docs/templates.md lists the sixteen templates with their parameters exactly as the YAML files have them."""

from __future__ import annotations

from automation.templates import library
from tests.templates.template_docs import DOC, document_part, generated


def test_the_template_list_in_the_docs_is_generated_from_the_yaml_files() -> None:
    assert document_part(DOC.read_text()) == generated(), (
        "docs/templates.md is out of date: run python -m tests.templates.template_docs")


def test_every_parameter_of_every_template_is_in_the_docs() -> None:
    part = document_part(DOC.read_text())

    for template in library().values():
        section = part[part.index(f'<a id="{template.key}"></a>'):]
        for parameter in template.parameters:
            assert f"| `{parameter.name}` | {parameter.label} |" in section, (template.key, parameter.name)
