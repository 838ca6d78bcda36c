"""Fixtures for tests that drive the ``relay`` command as a person would: in child processes, against a
SQLite file of the test's own, and ``relay up`` started and always stopped (with everything it started)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import SECRET_KEYS, _descendants, wait_for

ROOT = Path(__file__).resolve().parents[2]
Relay = Callable[..., subprocess.CompletedProcess[str]]


def clean_env(**values: str) -> dict[str, str]:
    """This process's environment without Relay's settings (the CI pass sets some), plus ``values``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RELAY_", "PYTEST_")) and k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(values)
    return env


def run_relay(*args: str, env: dict[str, str], stdin: str | None = None,
              timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "automation.cli", *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


@pytest.fixture
def shell_env(tmp_path: Path, redis_url: str) -> dict[str, str]:
    """Environment for `relay` commands: a SQLite file already at the newest schema, the session's Redis."""
    env = clean_env(DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}", REDIS_URL=redis_url, SECRET_KEY="cli-test",
                    RELAY_SECRET_KEYS=SECRET_KEYS)
    upgraded = run_relay("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RelayUp:
    """A running `relay up`: its port, its output, and the processes it started."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log
        self._log_file = log.open("wb")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "automation.cli", "up", "--port", str(self.port)],
            env=env, cwd=ROOT, stdout=self._log_file, stderr=subprocess.STDOUT,
        )
        self.started: list[int] = []

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def wait_until_healthy(self, timeout: float = 30) -> list[int]:
        """Wait for /health, then remember every process below `relay up` (to check they all end)."""
        wait_for(lambda: self.healthy() or self.popen.poll() is not None, timeout=timeout, interval=0.25,
                 message=f"relay up did not answer /health within {timeout}s:\n{self.output()}")
        assert self.popen.poll() is None, self.output()
        self.started = _descendants(self.popen.pid)
        return self.started

    def alive(self) -> list[int]:
        return [pid for pid in self.started if _is_alive(pid)]

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        for pid in [*self.alive(), *_descendants(self.popen.pid)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._log_file.close()


def _is_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.fixture
def relay_up(tmp_path: Path) -> Iterator[Callable[..., RelayUp]]:
    """Start `relay up` (embedded Redis, a SQLite file of the test's own); stopped at teardown regardless."""
    started: list[RelayUp] = []

    def start(**env: str) -> RelayUp:
        up = RelayUp(clean_env(DATABASE_URL=f"sqlite:///{tmp_path / 'up.db'}", **env),
                     tmp_path / f"up-{len(started)}.log")
        started.append(up)
        return up

    yield start
    for up in started:
        up.stop()
