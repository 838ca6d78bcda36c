"""The `relay` command: users and tokens from the shell, one-line errors for bad settings, and
`relay up` running web + worker + scheduler until Ctrl-C stops every one of them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from app import create_app
from automation.accounts import authenticate_token, hash_token
from automation.config import SETTINGS
from automation.models import ApiToken, db
from tests.conftest import _descendants, wait_for

ROOT = Path(__file__).resolve().parents[2]


def relay(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "automation.cli", *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


@pytest.fixture
def shell_env(tmp_path: Path, redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RELAY_", "DATABASE_URL", "REDIS_URL"))}
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "REDIS_URL": redis_url,
                "SECRET_KEY": "cli-test"})
    assert relay("db", "upgrade", env=env).returncode == 0
    return env


def test_created_token_authenticates_and_only_its_hash_is_stored(shell_env):
    created = relay("users", "create", "Ada@Example.com", "--role", "owner", "--password", "long enough pw",
                    env=shell_env)
    assert created.returncode == 0, created.stderr
    issued = relay("tokens", "create", "ada@example.com", env=shell_env)
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()

    app = create_app({"DATABASE_URL": shell_env["DATABASE_URL"], "REDIS_URL": shell_env["REDIS_URL"]})
    with app.app_context():
        identity = authenticate_token(token)
        assert identity is not None and identity.role == "owner"
        stored = db.session.query(ApiToken).one()
        assert stored.token_hash == hash_token(token)
        assert token not in (stored.token_hash, stored.prefix)


def test_password_is_prompted_when_omitted(shell_env):
    created = relay("users", "create", "bo@example.com", env=shell_env, stdin="long enough pw\nlong enough pw\n")
    assert created.returncode == 0, created.stderr
    assert "created bo@example.com" in created.stdout


def test_duplicate_user_fails_with_one_line(shell_env):
    relay("users", "create", "ada@example.com", "--password", "long enough pw", env=shell_env)
    again = relay("users", "create", "ada@example.com", "--password", "long enough pw", env=shell_env)
    assert again.returncode == 1
    assert again.stderr.strip().splitlines() == ["relay: a user with email ada@example.com already exists"]


def test_token_for_unknown_user_fails_with_one_line(shell_env):
    result = relay("tokens", "create", "nobody@example.com", env=shell_env)
    assert (result.returncode, result.stderr.strip()) == (1, "relay: no user with email nobody@example.com")


@pytest.mark.parametrize(("name", "value"), [("RELAY_LEASE", "soon"), ("DATABASE_URL", "mysql://x")])
def test_bad_setting_stops_with_one_line_naming_it(shell_env, name, value):
    result = relay("worker", env={**shell_env, name: value})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"relay: {name}: ")
    assert "Traceback" not in result.stderr


def test_readme_documents_every_setting():
    readme = (ROOT / "README.md").read_text()
    assert [s.env for s in SETTINGS if s.env not in readme] == []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_relay_up_serves_health_and_ctrl_c_stops_everything(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RELAY_", "DATABASE_URL", "REDIS_URL"))}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'up.db'}"
    log = (tmp_path / "up.log").open("w")
    up = subprocess.Popen([sys.executable, "-m", "automation.cli", "up", "--port", str(port)], env=env, cwd=ROOT,
                          stdout=log, stderr=subprocess.STDOUT)
    try:
        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    return response.status == 200
            except OSError:
                return False

        wait_for(healthy, timeout=60, interval=0.5, message=(tmp_path / "up.log").read_text())
        children = _descendants(up.pid)
        assert len(children) >= 4  # gunicorn master + its workers, relay worker, relay scheduler
        output = (tmp_path / "up.log").read_text()
        assert f"Relay is running at http://127.0.0.1:{port}" in output
        assert "relay users create" in output

        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=30) == 0
        time.sleep(0.5)
        assert [pid for pid in children if Path(f"/proc/{pid}").exists()
                and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()] == []
        assert not (ROOT / "instance" / "redis" / "redis.sock").exists()
    finally:
        if up.poll() is None:
            up.kill()
        log.close()
