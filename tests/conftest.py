"""Fixtures shared by every test: real Redis and a real database (SQLite, or PostgreSQL when
``DATABASE_URL`` is set), the app, its test client, and real ``relay worker`` processes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from automation.embedded_redis import EmbeddedRedis
from automation.models import db

POSTGRES_URL = os.environ.get("DATABASE_URL", "")
# One Fernet key per test session, so no test writes a generated key into the project's instance folder.
SECRET_KEYS = Fernet.generate_key().decode()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The machine's Redis when REDIS_URL is set, otherwise an embedded one for this test session."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    embedded = EmbeddedRedis(tmp_path_factory.mktemp("redis")).start()
    yield embedded.url
    embedded.stop()


@pytest.fixture(scope="session")
def postgres_ready() -> bool:
    """On PostgreSQL, build the schema once per session; tests then truncate instead of rebuilding."""
    if not POSTGRES_URL:
        return False
    app = create_app({"DATABASE_URL": POSTGRES_URL, "REDIS_URL": "redis://unused", "TESTING": True})
    with app.app_context():
        db.drop_all()
        db.create_all()
        db.engine.dispose()
    return True


@pytest.fixture
def database_url(tmp_path: Path, postgres_ready: bool) -> str:
    if postgres_ready:
        return POSTGRES_URL
    return f"sqlite:///{tmp_path / 'relay.db'}"


@pytest.fixture
def queue_name() -> str:
    """A queue of its own per test, so no test sees another's jobs on a shared Redis."""
    return f"relay-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def settings(database_url: str, redis_url: str, queue_name: str, tmp_path: Path) -> dict[str, Any]:
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "RELAY_QUEUE": queue_name,
        "SECRET_KEY": "test-secret-key",
        "RELAY_SECRET_KEYS": SECRET_KEYS,
        "RELAY_LEASE": 3.0,
        "RELAY_QUEUED_GRACE": 1.0,
        "RELAY_REAPER_INTERVAL": 0.5,
        "RELAY_PLUGINS": "tests.support.connectors",
    }


@pytest.fixture
def app(settings: dict[str, Any], postgres_ready: bool) -> Iterator[Flask]:
    app = create_app(settings)
    with app.app_context():
        if postgres_ready:
            tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
            db.session.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            db.session.commit()
        else:
            db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    redis.Redis.from_url(settings["REDIS_URL"]).delete(*_queue_keys(settings))


def _queue_keys(settings: dict[str, Any]) -> list[str]:
    client = redis.Redis.from_url(settings["REDIS_URL"])
    return [k.decode() for k in client.scan_iter(match=f"*{settings['RELAY_QUEUE']}*", count=1000)] or ["-"]


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def process_env(settings: dict[str, Any]) -> dict[str, str]:
    """Environment for child processes (`relay worker`, `relay scheduler`) sharing this test's stores."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RELAY_", "PYTEST_"))}
    env.update({k: str(v) for k, v in settings.items() if k != "TESTING"})
    env["PYTHONUNBUFFERED"] = "1"
    return env


class RelayProcess:
    """A `relay ...` child process started by a test; always stopped at teardown."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._log_file = log.open("wb")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "automation.cli", *args],
            env=env, stdout=self._log_file, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL the process and everything it forked (RQ's work horse leaves the process group)."""
        if self.popen.poll() is None:
            for pid in [*_descendants(self.popen.pid), self.popen.pid]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.popen.wait(timeout=10)

    def stop(self, timeout: float = 10) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        self._log_file.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _descendants(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@pytest.fixture
def start_process(process_env: dict[str, str], tmp_path: Path) -> Iterator[Any]:
    started: list[RelayProcess] = []

    def start(*args: str, env: dict[str, str] | None = None) -> RelayProcess:
        log = tmp_path / f"{args[0]}-{len(started)}.log"
        proc = RelayProcess(list(args), {**process_env, **(env or {})}, log)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


def wait_for(predicate: Any, timeout: float = 20.0, interval: float = 0.1, message: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test with ``message`` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(message or f"condition not met within {timeout}s")


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright (never a downloaded browser), one per test session:
    Playwright's sync API cannot be started twice at once, so every browser test shares this one."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only the browser tests need it

    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Chromium is not installed: `apt-get install chromium` (.ci/run does this)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
