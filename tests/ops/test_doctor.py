"""`relay doctor`: the readiness checks plus the configuration checks as a ✓/✗ checklist — exit 0 on a
healthy setup, 1 naming what needs attention (a connection no configured key decrypts, an active workflow
that no longer validates, an unreachable database, keys left generated or weak in production), and never
a secret in its output."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient

from automation import connections, workflows
from automation.accounts import create_user
from automation.config import Settings
from automation.doctor import secret_key_check, secret_keys_check
from automation.models import Connection, Workflow, Workspace, db
from automation.readiness import CheckFailed
from tests.conftest import wait_for
from tests.integration.conftest import run_relay

pytestmark = pytest.mark.storage
BOT_TOKEN = "xoxb-" + "7" * 24
SLACK_STEP = {"trigger": {"type": "manual"}, "steps": [
    {"id": "say", "uses": "slack.post_message", "connection": "Team Slack", "with": {"channel": "#a", "text": "hi"}},
]}
STRONG_KEY = "k3Y-" + "".join(chr(c) for c in range(ord("a"), ord("z") + 1)) + "0123456789"


@pytest.fixture
def settings(settings: dict[str, Any], migrated_database_url: str) -> dict[str, Any]:
    return {**settings, "DATABASE_URL": migrated_database_url, "RELAY_LEADER_TTL": 1.0}


@pytest.fixture
def workspace(app: Flask) -> Iterator[Workspace]:
    with app.app_context():
        create_user("owner@example.com", "correct horse battery", "owner")
        yield db.session.query(Workspace).one()


@pytest.fixture
def running(client: FlaskClient, start_process: Any) -> None:
    """A scheduler and a worker, and /ready green, so only the configuration decides the outcome."""
    start_process("scheduler")
    start_process("worker")
    wait_for(lambda: client.get("/ready").status_code == 200, timeout=60, interval=0.25,
             message=f"/ready did not turn 200: {client.get('/ready').get_json()}")


def doctor(process_env: dict[str, str], **env: str) -> subprocess.CompletedProcess[str]:
    return run_relay("doctor", env={**process_env, **env})


def line(output: str, name: str) -> str:
    return next(text for text in output.splitlines() if text[2:].startswith(f"{name} "))


def slack_workflow(workspace: Workspace) -> Workflow:
    connections.create_connection(workspace.id, "Team Slack", "slack", {"bot_token": BOT_TOKEN})
    return workflows.publish(workflows.create_workflow(workspace.id, "Announce", SLACK_STEP))


def test_exits_0_with_every_item_ticked_on_a_healthy_setup(workspace, running, process_env):
    slack_workflow(workspace)

    result = doctor(process_env)

    assert result.returncode == 0, result.stdout + result.stderr
    for name in ["database", "migrations", "redis", "scheduler", "worker", "secret_key", "secret_keys", "workflows",
                 "connections"]:
        assert line(result.stdout, name).startswith("✓"), result.stdout
    assert "all 1 active workflow(s) validate" in line(result.stdout, "workflows")
    assert "all 1 connection(s) with secrets decrypt" in line(result.stdout, "connections")
    assert result.stdout.strip().endswith("9 of 9 checks passed")


def test_exits_1_naming_the_connection_whose_key_is_missing(workspace, running, process_env):
    slack_workflow(workspace)

    result = doctor(process_env, RELAY_SECRET_KEYS=Fernet.generate_key().decode())

    assert result.returncode == 1
    assert line(result.stdout, "connections").startswith("✗")
    assert "connection 'Team Slack'" in result.stdout
    assert f"workspace {workspace.name!r}" in result.stdout
    assert result.stdout.strip().endswith("needs attention: connections")
    assert BOT_TOKEN not in result.stdout + result.stderr


def test_exits_1_naming_an_active_workflow_that_no_longer_validates(workspace, running, process_env):
    workflow = slack_workflow(workspace)
    connections.delete_connection(db.session.query(Connection).one())

    result = doctor(process_env)

    assert result.returncode == 1
    assert line(result.stdout, "workflows").startswith("✗")
    assert (f"workflow {workflow.id} 'Announce': steps.say.connection: connection 'Team Slack' does not exist"
            in result.stdout)


def test_exits_1_naming_the_database_when_it_cannot_be_opened(process_env, tmp_path):
    result = doctor(process_env, DATABASE_URL=f"sqlite:///{tmp_path / 'no-such-folder' / 'relay.db'}")

    assert result.returncode == 1
    assert line(result.stdout, "database").startswith("✗")
    assert "not checked: database is failing" in line(result.stdout, "connections")


def test_exits_1_naming_a_weak_secret_key_in_production(workspace, running, process_env):
    result = doctor(process_env, RELAY_ENV="production", SECRET_KEY="change-me-please-change-me-please-123")

    assert result.returncode == 1
    assert line(result.stdout, "secret_key").startswith("✗")
    assert "change-me-please" not in result.stdout
    assert result.stdout.strip().endswith("needs attention: secret_key")


def production(**env: str) -> Settings:
    return Settings.from_env({"RELAY_ENV": "production", **env})


def test_production_needs_secret_key_set():
    with pytest.raises(CheckFailed, match="SECRET_KEY is not set"):
        secret_key_check(production())


def test_production_accepts_a_long_random_secret_key():
    assert secret_key_check(production(SECRET_KEY=STRONG_KEY)) == "set"


def test_production_needs_relay_secret_keys_set():
    with pytest.raises(CheckFailed, match="RELAY_SECRET_KEYS is not set"):
        secret_keys_check(production())


def test_development_accepts_generated_keys():
    development = Settings.from_env({})

    assert "generated into the instance folder" in secret_key_check(development)
    assert "generated into the instance folder" in secret_keys_check(development)
