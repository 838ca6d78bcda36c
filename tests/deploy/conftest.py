"""Fixtures of the deploy tests: the environment a platform gives Relay's processes (a SQLite file and a Redis
of the test's own, secrets, PORT, the virtualenv on PATH, everything on 127.0.0.1) and process sets that are
always killed at teardown."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from automation.embedded_redis import EmbeddedRedis
from tests.deploy.stack import ProcessSet, free_port


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def base_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def deploy_env(tmp_path: Path, port: int) -> Iterator[dict[str, str]]:
    redis_server = EmbeddedRedis(tmp_path / "redis").start()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RELAY_", "PYTEST_", "GUNICORN_")) and k not in ("DATABASE_URL", "REDIS_URL")}
    env.update({
        # As an activated virtualenv would have it: `relay` and `gunicorn` are this interpreter's scripts.
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'relay.db'}",
        "REDIS_URL": redis_server.url,
        "SECRET_KEY": "deploy-test-secret-key",
        "RELAY_SECRET_KEYS": Fernet.generate_key().decode(),
        "PORT": str(port),
        # The platforms' 0.0.0.0:$PORT, narrowed to loopback for the test the documented way.
        "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{port}",
        "PYTHONUNBUFFERED": "1",
    })
    yield env
    redis_server.stop()


@pytest.fixture
def process_set(deploy_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., ProcessSet]]:
    made: list[ProcessSet] = []

    def make(*, signal_group: bool, env: dict[str, str] | None = None) -> ProcessSet:
        logs = tmp_path / f"logs-{len(made)}"
        logs.mkdir()
        processes = ProcessSet({**deploy_env, **(env or {})}, logs, signal_group=signal_group)
        made.append(processes)
        return processes

    yield make
    for processes in made:
        processes.kill()
