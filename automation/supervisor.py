"""``relay up``: one command that runs web, worker and scheduler for a newcomer, and owns their lifetime.

It starts one embedded Redis (when ``REDIS_URL`` is unset) and hands its URL to all three children, so
they share it; it migrates the database first. Ctrl-C, SIGTERM or a closed terminal stops the children
(one SIGTERM each, SIGKILL for whatever is left after a grace period) and then Redis. If a child dies,
the others are stopped too and ``relay up`` exits non-zero naming it.

All of them keep their metrics in one directory (automation/metrics.py): PROMETHEUS_MULTIPROC_DIR cleared
of the files of processes that have ended, or a temporary directory made for this run and removed after it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import click
from flask import Flask

from automation import metrics
from automation.child_processes import die_with_parent
from automation.config import Settings
from automation.embedded_redis import EmbeddedRedis

GRACE_SECONDS = 10.0
POLL_SECONDS = 0.2
PROJECT_DIR = Path(__file__).resolve().parent.parent
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

Children = dict[str, subprocess.Popen[bytes]]


class StopRequest:
    """Signal handler that only records the signal, so start-up steps finish (and get cleaned up)."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        self.signum = signum


def run_all(host: str, port: int) -> int:
    """Run web, worker(s) and scheduler until a stop signal or a child's death; returns the exit code.

    Raises:
        ConfigError: a bad setting, or no Redis to embed (``relay``'s ``main`` prints it as one line).
    """
    from app import create_app  # noqa: PLC0415 - `relay --help` stays free of app start-up

    if not _port_is_free(host, port):
        click.echo(f"relay: {host}:{port} is already in use; pick another with --port", err=True)
        return 1
    stop = StopRequest()
    previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
    env = dict(os.environ)
    embedded: EmbeddedRedis | None = None
    children: Children = {}
    # Before any app is built here: the directory is fixed per process by the first one (and inherited).
    metrics_dir, made_metrics_dir = metrics.prepare_directory(Settings.from_env().PROMETHEUS_MULTIPROC_DIR)
    os.environ[metrics.ENV] = env[metrics.ENV] = metrics_dir
    try:
        if not env.get("REDIS_URL"):
            # The placeholder keeps the factory from starting a Redis of its own; we only need the path.
            instance = create_app({"REDIS_URL": "redis://unused"}).instance_path
            candidate = EmbeddedRedis(Path(instance) / "redis")
            if candidate.is_running():  # starting ours would take the socket from under its owner
                click.echo(f"relay: a Redis is already listening on {candidate.socket} (another `relay up`?); "
                           "stop it, or set REDIS_URL to share a Redis server", err=True)
                return 1
            embedded = _start_redis(candidate)
            env["REDIS_URL"] = embedded.url
        app = create_app({"REDIS_URL": env["REDIS_URL"]})
        # Spelled out for the children so all three agree even if the defaults were to change.
        env.setdefault("DATABASE_URL", app.config["DATABASE_URL"])
        env.setdefault("SECRET_KEY", app.config["SECRET_KEY"])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_DIR), env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        _upgrade_database(app)
        if stop.signum is not None:
            return 0
        children = _start_children(_commands(host, port, app.config["WEB_CONCURRENCY"],
                                             app.config["RELAY_WORKERS"]), env)
        _announce(host, port)
        return _watch(children, stop)
    finally:
        _stop_children(children)
        if embedded is not None:
            embedded.stop()
        if made_metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _start_redis(embedded: EmbeddedRedis) -> EmbeddedRedis:
    # Ctrl-C in a terminal signals the whole foreground process group, Redis included, and Redis would
    # quit under web, worker and scheduler while they still shut down. A blocked signal stays blocked
    # across exec (redis-server never unblocks it), so SIGINT stays ours and Redis stops last, by SIGTERM.
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        return embedded.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # Same option gunicorn sets, so a port in TIME_WAIT from the last run does not count as taken.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _upgrade_database(app: Flask) -> None:
    from flask_migrate import upgrade  # noqa: PLC0415

    from app import MIGRATIONS  # noqa: PLC0415
    from automation.models import db  # noqa: PLC0415

    with app.app_context():
        upgrade(directory=MIGRATIONS)
        db.engine.dispose()


def _commands(host: str, port: int, web_workers: int, workers: int) -> dict[str, list[str]]:
    relay = [sys.executable, "-m", "automation.cli"]
    web = [
        sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}", "--workers", str(web_workers),
        "--threads", "4", "--chdir", str(PROJECT_DIR),
        # Finish requests in flight within our grace period rather than being SIGKILLed mid-response.
        "--graceful-timeout", str(int(GRACE_SECONDS) - 2), "app:app",
    ]
    names = ["worker"] if workers == 1 else [f"worker {n + 1}" for n in range(workers)]
    return {"web": web, **{name: [*relay, "worker"] for name in names}, "scheduler": [*relay, "scheduler"]}


def _start_children(commands: dict[str, list[str]], env: dict[str, str]) -> Children:
    # Own process groups: Ctrl-C reaches only us, and each child gets exactly one SIGTERM from us. RQ
    # treats a second signal as "stop now", which would abandon the run in flight.
    return {
        name: subprocess.Popen(command, env=env, cwd=PROJECT_DIR, stdin=subprocess.DEVNULL, process_group=0,
                               preexec_fn=die_with_parent())
        for name, command in commands.items()
    }


def _announce(host: str, port: int) -> None:
    relay = _relay_command()
    click.echo(f"Relay is running at http://{host}:{port}  (Ctrl-C stops it)")
    click.echo("Open it in a browser: the first visit creates the owner's account.")
    click.echo(f"For the API, a token:  {relay} tokens create you@example.com")


def _relay_command() -> str:
    """How to call ``relay`` from this shell: plain ``relay`` if PATH finds this one, else its path."""
    script = Path(sys.executable).parent / "relay"
    if not script.exists():
        return "relay"
    found = shutil.which("relay")
    if found and Path(found).resolve() == script.resolve():
        return "relay"
    with contextlib.suppress(ValueError):
        return str(script.absolute().relative_to(Path.cwd()))
    return str(script)


def _watch(children: Children, stop: StopRequest) -> int:
    while stop.signum is None:
        for name, child in children.items():
            if child.poll() is not None:
                click.echo(f"relay: the {name} process {_describe_exit(child.returncode)}; stopping the others",
                           err=True)
                return 1
        time.sleep(POLL_SECONDS)
    click.echo(f"relay: {signal.Signals(stop.signum).name} received; stopping web, worker and scheduler", err=True)
    return 0


def _describe_exit(code: int) -> str:
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


def _stop_children(children: Children) -> None:
    """SIGTERM every child, wait up to the grace period, then SIGKILL what is left, grandchildren included."""
    running = {name: child for name, child in children.items() if child.poll() is None}
    # Taken before signalling: RQ's work horse runs in a process group of its own, so killing the
    # worker's group would miss it, and once the worker is gone the horse's parent is no longer known.
    trees = {name: _process_tree(child.pid) for name, child in running.items()}
    for child in running.values():
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    for name, child in running.items():
        try:
            child.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            click.echo(f"relay: the {name} process did not stop within {GRACE_SECONDS:.0f}s; killing it",
                       err=True)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    for tree in trees.values():
        for pid, started in tree:
            if _start_time(pid) == started:  # still the same process, not a new one that got its pid
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def _process_tree(root: int) -> list[tuple[int, int]]:
    """Descendants of ``root`` as (pid, start time) pairs, from /proc (empty where there is none)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            parents.setdefault(ppid, []).append(int(stat.parent.name))
    found: list[tuple[int, int]] = []
    todo = [root]
    while todo:
        for pid in parents.get(todo.pop(), []):
            started = _start_time(pid)
            if started is not None:
                found.append((pid, started))
            todo.append(pid)
    return found


def _start_time(pid: int) -> int | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] == "Z":  # a zombie has already exited; only its parent's wait() is missing
        return None
    return int(fields[19])  # field 22 of proc(5): start time in clock ticks after boot
