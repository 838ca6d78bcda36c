"""Running a deploy file's commands the way its platform does: each process started from the project folder
with the platform's environment, stopped with SIGTERM, and judged by its exit code and how long it took."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

PROJECT_DIR = Path(__file__).resolve().parents[2]
OWNER_EMAIL = "ops@example.com"
OWNER_PASSWORD = "deploy-check-password"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Exit:
    """How a process ended after SIGTERM: its exit code (None: still running at the deadline) and when."""

    returncode: int | None
    seconds: float


class ProcessSet:
    """Named processes of one deploy, each in a process group of its own with its output in a log file.

    ``signal_group`` says where a stop signal goes: the whole group (Heroku and honcho signal every
    process of a dyno, PM2 kills the process tree) or the started process alone (Docker signals PID 1).
    """

    def __init__(self, env: dict[str, str], logs: Path, *, signal_group: bool) -> None:
        self.env = env
        self.logs = logs
        self.signal_group = signal_group
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def run(self, name: str, argv: list[str], timeout: float = 60) -> str:
        """Run a one-shot command (a release phase, a CLI call) to completion; its standard output."""
        done = subprocess.run(argv, cwd=PROJECT_DIR, env=self.env, capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        (self.logs / f"{name}.log").write_bytes(done.stdout + done.stderr)
        assert done.returncode == 0, f"{name} exited {done.returncode}:\n{done.stderr.decode(errors='replace')}"
        return done.stdout.decode()

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        """Start a long-running process; ``env`` is laid over the set's environment."""
        with (self.logs / f"{name}.log").open("wb") as log:
            self.processes[name] = subprocess.Popen(
                argv, cwd=PROJECT_DIR, env={**self.env, **(env or {})}, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )

    def output(self) -> str:
        return "\n".join(f"--- {log.stem}\n{log.read_text(errors='replace')[-3000:]}"
                         for log in sorted(self.logs.glob("*.log")))

    def stop(self, timeout: float) -> dict[str, Exit]:
        """SIGTERM every process at once, then watch them all for up to ``timeout`` seconds."""
        started = time.monotonic()
        for process in self.processes.values():
            self._signal(process, signal.SIGTERM)
        exits: dict[str, Exit] = {}
        running = dict(self.processes)
        while running and time.monotonic() - started < timeout:
            for name, process in list(running.items()):
                if process.poll() is not None:
                    exits[name] = Exit(process.returncode, time.monotonic() - started)
                    del running[name]
            time.sleep(0.05)
        exits.update({name: Exit(None, time.monotonic() - started) for name in running})
        return exits

    def kill(self) -> None:
        """Teardown: SIGKILL whatever is left, children included."""
        for process in self.processes.values():
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(timeout=10)

    def _signal(self, process: subprocess.Popen[bytes], signum: int) -> None:
        try:
            if self.signal_group:
                os.killpg(process.pid, signum)
            else:
                process.send_signal(signum)
        except ProcessLookupError:
            pass


def wait_until_ready(base_url: str, processes: ProcessSet, timeout: float = 60) -> dict[str, Any]:
    """Poll GET /ready until it answers 200 (every readiness check passes); its body."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        for name, process in processes.processes.items():
            if process.poll() is not None:
                pytest.fail(f"{name} exited with {process.returncode} before Relay was ready\n{processes.output()}")
        try:
            response = requests.get(f"{base_url}/ready", timeout=10)
        except (requests.ConnectionError, requests.Timeout):  # gunicorn listens before its workers have booted
            time.sleep(0.2)
            continue
        if response.status_code == 200:
            return dict(response.json())
        last = f"{response.status_code} {response.text}"
        time.sleep(0.2)
    pytest.fail(f"/ready did not answer 200 within {timeout}s (last: {last})\n{processes.output()}")


def run_manual_execution(base_url: str, processes: ProcessSet, relay: list[str]) -> dict[str, Any]:
    """Create an owner and a token with ``relay``, then publish a manual workflow and run it through the API
    (so a worker has to pick it up); the finished execution as the API shows it."""
    processes.run("users-create", [*relay, "users", "create", OWNER_EMAIL, "--role", "owner",
                                   "--password", OWNER_PASSWORD])
    token = processes.run("tokens-create", [*relay, "tokens", "create", OWNER_EMAIL]).strip()
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token}"
    created = api.post(f"{base_url}/api/v1/workflows", timeout=10, json={"name": "Deploy check", "definition": {
        "trigger": {"type": "manual"},
        "steps": [{"id": "greet", "uses": "core.set", "with": {"text": "Hello {{ trigger.body.name }}"}}],
    }})
    assert created.status_code == 201, created.text
    workflow_id = created.json()["id"]
    published = api.post(f"{base_url}/api/v1/workflows/{workflow_id}/publish", timeout=10)
    assert published.status_code == 200, published.text
    started = api.post(f"{base_url}/api/v1/workflows/{workflow_id}/executions", json={"name": "Ada"}, timeout=10)
    assert started.status_code == 202, started.text
    execution_url = f"{base_url}/api/v1/executions/{started.json()['id']}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        execution = dict(api.get(execution_url, timeout=10).json())
        if execution["status"] not in ("queued", "running"):
            return execution
        time.sleep(0.2)
    pytest.fail(f"the execution was not run within 30s\n{processes.output()}")
