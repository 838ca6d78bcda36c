"""The Procfile: its four process types, and its commands run as Heroku runs them (each line through
``bash -c``, which execs a lone command, so the signal and the exit code are the command's own; the release
phase first) until /ready answers 200 and a run succeeds."""

from __future__ import annotations

import re

from tests.deploy.stack import PROJECT_DIR, run_manual_execution, wait_until_ready

# Heroku's and honcho's grammar of a Procfile line.
LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(.+)$")
# Heroku sends SIGKILL 30 s after SIGTERM; every process must be gone by then.
HEROKU_STOP_GRACE = 30.0


def procfile() -> dict[str, str]:
    lines = (PROJECT_DIR / "Procfile").read_text().splitlines()
    return {m.group(1): m.group(2) for m in map(LINE.match, lines) if m}


def test_procfile_declares_release_web_worker_and_scheduler():
    assert list(procfile()) == ["release", "web", "worker", "scheduler"]


def test_release_phase_migrates_the_database():
    assert procfile()["release"] == "relay db upgrade"


def test_web_runs_gunicorn_on_the_app_factory_module():
    web = procfile()["web"].split()
    assert web[0] == "gunicorn"
    assert web[-1] == "app:app"
    assert "${WEB_CONCURRENCY:-2}" in web


def test_procfile_commands_start_reach_ready_run_an_execution_and_stop_cleanly(process_set, base_url):
    commands = procfile()
    platform = process_set(signal_group=True)

    platform.run("release", ["bash", "-c", commands["release"]])
    for name in ("web", "worker", "scheduler"):
        platform.start(name, ["bash", "-c", commands[name]])
    ready = wait_until_ready(base_url, platform)
    execution = run_manual_execution(base_url, platform, ["relay"])
    exits = platform.stop(timeout=HEROKU_STOP_GRACE)

    assert ready["status"] == "ready"
    assert execution["status"] == "succeeded", execution
    assert execution["steps"][0]["output"] == {"text": "Hello Ada"}
    assert {name: e.returncode for name, e in exits.items()} == {"web": 0, "worker": 0, "scheduler": 0}, \
        platform.output()
    assert max(e.seconds for e in exits.values()) < HEROKU_STOP_GRACE
