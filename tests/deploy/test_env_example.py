"""Every setting of automation/config.py is documented twice: in .env.example (its description, its default and
the variable) and in the README's configuration table, so a new setting cannot be forgotten by operators."""

from __future__ import annotations

import re

import pytest

from automation.config import SETTINGS, Setting
from tests.deploy.stack import PROJECT_DIR

ASSIGNMENT = re.compile(r"^(?:# )?([A-Z][A-Z0-9_]*)=(.*)$")
# Variables of the platforms and of docker-compose.yml rather than of Relay itself.
PLATFORM_VARIABLES = {"PORT", "POSTGRES_PASSWORD"}


def env_example_blocks() -> dict[str, tuple[str, str]]:
    """Each variable of .env.example with its value and the comment block above it, joined into one line."""
    blocks: dict[str, tuple[str, str]] = {}
    for block in (PROJECT_DIR / ".env.example").read_text().split("\n\n"):
        *comments, last = block.strip().splitlines()
        match = ASSIGNMENT.match(last)
        if match:
            blocks[match.group(1)] = (match.group(2), " ".join(line.removeprefix("#").strip() for line in comments))
    return blocks


def readme_table_variables() -> set[str]:
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", (PROJECT_DIR / "README.md").read_text(), re.MULTILINE))


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.env)
def test_env_example_describes_the_setting(setting: Setting):
    blocks = env_example_blocks()

    assert setting.env in blocks, f"{setting.env} is missing from .env.example"
    assert f"{setting.env}: {setting.help}" in blocks[setting.env][1]


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.default is not None], ids=lambda s: s.env)
def test_env_example_states_the_settings_default(setting: Setting):
    _, comment = env_example_blocks()[setting.env]

    assert f"(default: {setting.default or 'empty'})" in comment


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.env)
def test_readme_configuration_table_has_the_setting(setting: Setting):
    assert setting.env in readme_table_variables(), f"{setting.env} is missing from the README's configuration table"


def test_env_example_has_no_variable_relay_does_not_read():
    unknown = set(env_example_blocks()) - {s.env for s in SETTINGS} - PLATFORM_VARIABLES

    assert not unknown, f".env.example documents variables that are not settings: {sorted(unknown)}"


def test_env_example_holds_no_secret_value():
    blocks = env_example_blocks()

    assert blocks["SECRET_KEY"][0] == ""
    assert blocks["RELAY_SECRET_KEYS"][0] == ""
    assert blocks["POSTGRES_PASSWORD"][0] == ""
