"""The `relay` command: users and tokens from the shell, one-line errors for bad settings, and
`relay up` running web + worker + scheduler until a signal or a dead child stops every one of them."""

from __future__ import annotations

import base64
import os
import signal
import urllib.request
from pathlib import Path

import pytest
import yaml

from app import create_app
from automation import connections
from automation.accounts import authenticate_token, default_workspace, hash_token
from automation.config import SETTINGS
from automation.models import ApiToken, Connection, User, db
from automation.secret_box import SecretBox, generate_key
from tests.integration.conftest import ROOT, clean_env, run_relay

PASSWORD = "long enough pw"
SIGNING_SECRET = "whsec_" + base64.b64encode(b"c" * 32).decode()
EMBEDDED_SOCKET = ROOT / "instance" / "redis" / "redis.sock"


def test_created_token_authenticates_and_only_its_hash_is_stored(shell_env):
    created = run_relay("users", "create", "Ada@Example.com", "--role", "owner", "--password", PASSWORD,
                        "--name", "Ada", env=shell_env)
    assert created.returncode == 0, created.stderr
    issued = run_relay("tokens", "create", "ada@example.com", "--name", "ci", env=shell_env)
    assert issued.returncode == 0, issued.stderr
    assert len(issued.stdout.splitlines()) == 1  # just the token, so `TOKEN=$(relay tokens create ...)` works
    token = issued.stdout.strip()
    assert "not shown again" in issued.stderr

    app = create_app({"DATABASE_URL": shell_env["DATABASE_URL"], "REDIS_URL": shell_env["REDIS_URL"]})
    with app.app_context():
        identity = authenticate_token(token)
        assert identity is not None and identity.role == "owner" and not identity.read_only
        stored = db.session.query(ApiToken).one()
        assert stored.token_hash == hash_token(token)
        assert stored.name == "ci"
        assert token not in (stored.token_hash, stored.prefix)
        assert db.session.query(User).one().name == "Ada"
        db.engine.dispose()


def test_read_only_token_is_stored_read_only(shell_env):
    run_relay("users", "create", "ro@example.com", "--role", "viewer", "--password", PASSWORD, env=shell_env)
    issued = run_relay("tokens", "create", "ro@example.com", "--read-only", env=shell_env)
    assert issued.returncode == 0, issued.stderr

    app = create_app({"DATABASE_URL": shell_env["DATABASE_URL"], "REDIS_URL": shell_env["REDIS_URL"]})
    with app.app_context():
        identity = authenticate_token(issued.stdout.strip())
        assert identity is not None and identity.read_only and identity.role == "viewer"
        db.engine.dispose()


def test_password_is_prompted_twice_when_omitted(shell_env):
    created = run_relay("users", "create", "bo@example.com", env=shell_env, stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert created.returncode == 0, created.stderr
    assert "created bo@example.com" in created.stdout


def test_duplicate_user_fails_with_one_line(shell_env):
    first = run_relay("users", "create", "ada@example.com", "--password", PASSWORD, env=shell_env)
    assert first.returncode == 0, first.stderr
    again = run_relay("users", "create", "ADA@example.com", "--password", PASSWORD, env=shell_env)
    assert again.returncode == 1
    assert again.stderr.strip().splitlines() == ["relay: a user with email ada@example.com already exists"]


@pytest.mark.parametrize(("args", "message"), [
    (["users", "create", "x@example.com", "--password", "short"], "the password must have at least 8 characters"),
    (["users", "create", "x@example.com", "--password", PASSWORD, "--workspace", "Nope"],
     "no workspace named 'Nope'"),
    (["tokens", "create", "nobody@example.com"], "no user with email nobody@example.com"),
])
def test_account_errors_fail_with_one_line(shell_env, args, message):
    result = run_relay(*args, env=shell_env)
    assert (result.returncode, result.stderr.strip()) == (1, f"relay: {message}")


WORKFLOW_FILE = """name: Nightly digest
definition:
  trigger: {type: schedule, schedule: {cron: "0 6 * * *", timezone: Europe/Berlin}}
  steps:
    - {id: note, uses: core.set, with: {day: "{{ trigger.scheduled_for }}"}}
"""


def test_workflows_import_then_export_round_trips_a_file(shell_env, tmp_path):
    source = tmp_path / "digest.yaml"
    source.write_text(WORKFLOW_FILE)
    imported = run_relay("workflows", "import", str(source), env=shell_env)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "imported workflow 1 (Nightly digest) as a draft; publish it to run it"

    exported = run_relay("workflows", "export", "1", env=shell_env)

    assert exported.returncode == 0, exported.stderr
    assert yaml.safe_load(exported.stdout)["definition"] == yaml.safe_load(WORKFLOW_FILE)["definition"]


def test_workflows_import_of_a_bad_file_lists_its_problems(shell_env, tmp_path):
    source = tmp_path / "bad.yaml"
    source.write_text("name: X\ndefinition: {trigger: {type: cron}, steps: []}\n")
    result = run_relay("workflows", "import", str(source), env=shell_env)
    assert result.returncode == 1
    assert result.stderr.startswith("relay: the file is not a valid workflow:")
    assert "definition.trigger.type: must be one of webhook, schedule, manual" in result.stderr
    assert "Traceback" not in result.stderr


def test_workflows_export_of_an_unknown_workflow_fails_with_one_line(shell_env):
    result = run_relay("workflows", "export", "42", env=shell_env)
    assert (result.returncode, result.stderr.strip()) == (1, "relay: no workflow 42 in workspace 'Default'")


def test_a_command_on_a_database_without_the_schema_says_to_upgrade(shell_env, tmp_path):
    empty = {**shell_env, "DATABASE_URL": f"sqlite:///{tmp_path / 'never-upgraded.db'}"}
    result = run_relay("users", "create", "ada@example.com", "--password", PASSWORD, env=empty)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("relay: the database has no Relay schema yet")
    assert lines[0].endswith("run `relay db upgrade` first")


@pytest.mark.parametrize(("name", "value"), [("RELAY_LEASE", "soon"), ("DATABASE_URL", "mysql://x")])
def test_bad_setting_stops_with_one_line_naming_it(shell_env, name, value):
    result = run_relay("worker", env={**shell_env, name: value})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"relay: {name}: ")
    assert "Traceback" not in result.stderr


def test_keys_rotate_re_encrypts_every_connection_under_the_new_first_key(shell_env):
    old, new = shell_env["RELAY_SECRET_KEYS"], generate_key()
    stores = {"DATABASE_URL": shell_env["DATABASE_URL"], "REDIS_URL": shell_env["REDIS_URL"]}
    with create_app({**stores, "RELAY_SECRET_KEYS": old}).app_context():
        workspace = default_workspace()
        assert workspace is not None
        connections.create_connection(workspace.id, "Hook", "webhook", {"signing_secret": SIGNING_SECRET})
        db.engine.dispose()

    rotated = run_relay("keys", "rotate", env={**shell_env, "RELAY_SECRET_KEYS": f"{new},{old}"})
    assert rotated.returncode == 0, rotated.stderr
    assert "re-encrypted 1 connection(s)" in rotated.stdout

    with create_app({**stores, "RELAY_SECRET_KEYS": new}).app_context():
        loaded = connections.load(db.session.query(Connection).one())
        assert loaded.fields["signing_secret"] == SIGNING_SECRET
        db.engine.dispose()


def test_keys_generate_prints_a_usable_key():
    generated = run_relay("keys", "generate", env=clean_env())
    assert generated.returncode == 0, generated.stderr
    SecretBox([generated.stdout.strip()])


def test_readme_documents_every_setting():
    """Every SETTINGS name has a row in the configuration table, showing the default it really has."""
    readme = (ROOT / "README.md").read_text()
    # Rows of the configuration table: | `NAME` | default | meaning |
    rows = {cells[1].strip().strip("`"): cells[2].strip()
            for cells in (line.split("|") for line in readme.splitlines() if line.startswith("| `"))}
    assert [s.env for s in SETTINGS if s.env not in rows] == []
    assert {s.env: rows[s.env] for s in SETTINGS if s.default and rows[s.env] != f"`{s.default}`"} == {}


def test_db_downgrade_to_base_then_upgrade_again(shell_env):
    down = run_relay("db", "downgrade", "base", env=shell_env)
    assert down.returncode == 0, down.stderr
    assert run_relay("db", "current", env=shell_env).stdout.strip() == ""
    up = run_relay("db", "upgrade", env=shell_env)
    assert up.returncode == 0, up.stderr
    assert "(head)" in run_relay("db", "current", env=shell_env).stdout


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_relay_up_serves_health_and_a_signal_stops_everything(relay_up, stop_signal):
    up = relay_up()
    children = up.wait_until_healthy(timeout=30)
    # web (gunicorn master + 2 workers), worker (+ RQ's scheduler), scheduler, embedded redis-server
    assert len(children) >= 6, children
    output = up.output()
    assert f"Relay is running at http://127.0.0.1:{up.port}" in output
    assert "Open it in a browser: the first visit creates the owner's account." in output
    assert "relay tokens create you@example.com" in output
    assert urllib.request.urlopen(f"http://127.0.0.1:{up.port}/setup", timeout=10).status == 200

    up.popen.send_signal(stop_signal)
    assert up.popen.wait(timeout=15) == 0, up.output()
    assert up.alive() == []
    assert not EMBEDDED_SOCKET.exists()
    assert "Traceback" not in up.output()


def test_relay_up_stops_everything_when_a_child_dies(relay_up):
    up = relay_up()
    up.wait_until_healthy(timeout=30)
    scheduler = next(pid for pid in up.started if "automation.cli scheduler" in _cmdline(pid))
    os.kill(scheduler, signal.SIGKILL)
    assert up.popen.wait(timeout=15) == 1
    assert "relay: the scheduler process was killed by SIGKILL; stopping the others" in up.output()
    assert up.alive() == []
    assert not EMBEDDED_SOCKET.exists()


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_second_relay_up_leaves_the_running_ones_redis_alone(relay_up):
    first = relay_up()
    first.wait_until_healthy(timeout=30)

    second = relay_up()
    assert second.popen.wait(timeout=30) == 1
    assert f"relay: a Redis is already listening on {EMBEDDED_SOCKET}" in second.output()
    assert first.healthy() and first.popen.poll() is None
    assert EMBEDDED_SOCKET.exists()
