"""``relay up``: one command that runs web, worker and scheduler for a newcomer.

It starts one embedded Redis (when ``REDIS_URL`` is unset) and hands its URL to all three children, so
they share it; it migrates the database first. Ctrl-C or SIGTERM stops the children (SIGTERM, then
SIGKILL after a grace period) and then Redis. If a child dies, the others are stopped too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import click

GRACE_SECONDS = 10
PROJECT_DIR = Path(__file__).resolve().parent.parent


def run_all(host: str, port: int) -> int:
    """Run until interrupted; returns the process exit code."""
    from app import MIGRATIONS, create_app  # noqa: PLC0415
    from automation.embedded_redis import EmbeddedRedis  # noqa: PLC0415

    env = dict(os.environ)
    embedded: EmbeddedRedis | None = None
    if not env.get("REDIS_URL"):
        app = create_app({"REDIS_URL": "redis://unused"})
        embedded = EmbeddedRedis(Path(app.instance_path) / "redis").start()
        env["REDIS_URL"] = embedded.url
    app = create_app({"REDIS_URL": env["REDIS_URL"]})
    env.setdefault("DATABASE_URL", app.config["DATABASE_URL"])
    env.setdefault("SECRET_KEY", app.config["SECRET_KEY"])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_DIR), env.get("PYTHONPATH")]))

    from flask_migrate import upgrade  # noqa: PLC0415

    with app.app_context():
        upgrade(directory=MIGRATIONS)

    relay = [sys.executable, "-m", "automation.cli"]
    commands = {
        "web": [sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}", "--workers",
                str(app.config["WEB_CONCURRENCY"]), "--threads", "4", "--chdir", str(PROJECT_DIR), "app:app"],
        **{f"worker {n + 1}": [*relay, "worker"] for n in range(app.config["RELAY_WORKERS"])},
        "scheduler": [*relay, "scheduler"],
    }
    children = {name: subprocess.Popen(cmd, env=env, cwd=PROJECT_DIR) for name, cmd in commands.items()}
    stopping = False

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    click.echo(f"Relay is running at http://{host}:{port}  (Ctrl-C stops it)")
    click.echo("First time? Create the owner:  relay users create you@example.com --role owner")
    click.echo("Then an API token:             relay tokens create you@example.com")

    code = 0
    try:
        while not stopping:
            dead = next((name for name, child in children.items() if child.poll() is not None), None)
            if dead is not None:
                click.echo(f"relay: the {dead} process exited with code {children[dead].returncode}; "
                           "stopping the others", err=True)
                code = 1
                break
            time.sleep(0.2)
    finally:
        _stop(list(children.values()))
        if embedded is not None:
            embedded.stop()
    return code


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    for child in children:
        try:
            child.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
