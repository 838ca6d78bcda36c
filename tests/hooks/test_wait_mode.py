"""``response: {mode: wait, step, timeout}``: the request is held while a real ``relay worker`` runs the
workflow, and answered with the chosen step's output (200), 202 when it takes longer, 502 when the run
fails, 204 when the run ends without that step."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.hooks.conftest import webhook

pytestmark = pytest.mark.storage

ECHO = {"id": "echo", "uses": "core.set", "with": {"greeting": "Hello {{ trigger.body.name }}"}}


def wait_on(step: str, timeout: str = "20s", *steps: dict) -> dict:
    return webhook(list(steps), response={"mode": "wait", "step": step, "timeout": timeout})


def test_a_fast_run_answers_200_with_the_steps_output(client, make_hook, start_process):
    path = make_hook(wait_on("echo", "20s", ECHO))["path"]
    start_process("worker")

    response = client.post(path, json={"name": "Ada"})

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"greeting": "Hello Ada"}
    assert response.headers["X-Relay-Execution-Id"] == "1"


def test_a_slow_run_answers_202_with_the_execution_id_when_the_wait_is_over(client, make_hook, start_process,
                                                                             tmp_path: Path):
    nap = {"id": "nap", "uses": "test.sleep", "with": {"ledger": str(tmp_path / "ledger"), "mark": "nap",
                                                        "seconds": 5}}
    path = make_hook(wait_on("nap", "1s", nap))["path"]
    worker = start_process("worker")

    started = time.monotonic()
    response = client.post(path, json={})
    worker.kill()  # no need to let the nap finish

    assert response.status_code == 202
    assert response.get_json()["execution_id"] == 1
    assert response.get_json()["status"] in ("queued", "running")
    assert 1 <= time.monotonic() - started < 3


def test_a_failed_run_answers_502_with_the_execution_id_and_error(client, make_hook, start_process, tmp_path: Path):
    broken = {"id": "broken", "uses": "test.flaky", "with": {"ledger": str(tmp_path / "ledger"), "mark": "b",
                                                              "failures": 5, "retryable": False}}
    path = make_hook(wait_on("echo", "20s", broken, ECHO))["path"]
    start_process("worker")

    response = client.post(path, json={"name": "Ada"})

    assert response.status_code == 502, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == "run_failed"
    assert error["details"]["execution_id"] == 1
    assert error["details"]["error_step"] == "broken"
    assert "planned failure" in error["details"]["error"]


def test_a_run_that_skips_the_step_answers_204(client, make_hook, start_process):
    stop = {"id": "gate", "uses": "core.filter", "with": {"condition": "{{ trigger.body.vip | default(false) }}"}}
    path = make_hook(wait_on("echo", "20s", stop, ECHO))["path"]
    start_process("worker")

    response = client.post(path, json={"name": "Ada"})

    assert response.status_code == 204, response.get_data(as_text=True)
    assert response.headers["X-Relay-Execution-Id"] == "1"


@pytest.mark.settings(RELAY_HOOK_MAX_WAIT=0.5)
def test_relay_hook_max_wait_caps_the_definitions_timeout(client, make_hook):
    path = make_hook(wait_on("echo", "10m", ECHO))["path"]

    started = time.monotonic()
    response = client.post(path, json={"name": "Ada"})

    assert response.status_code == 202
    assert time.monotonic() - started < 2
