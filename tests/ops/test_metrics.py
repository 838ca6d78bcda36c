"""GET /metrics: Prometheus text, parsed with prometheus-client's own parser, that adds up what every process
counted — runs started here and executed by two real `relay worker` processes, webhook answers, schedule
fires and misses — plus the queue depth read from Redis at scrape time; a bearer token when one is set."""

from __future__ import annotations

import re
import subprocess
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from rq import Worker

from app import create_app
from automation import dispatch, ingest
from automation.firing import fire_due
from automation.metrics import ENV
from automation.models import Execution, ExecutionEvent, db
from tests.conftest import wait_for
from tests.ops.scraping import grown, scrape, value
from tests.scheduler.conftest import definition, place_watermark, utc

pytestmark = pytest.mark.storage

TOKEN = "metrics-token-0123456789abcdef"


def finished(execution_ids: list[int]) -> bool:
    db.session.expire_all()
    statuses = db.session.scalars(sa.select(Execution.status).where(Execution.id.in_(execution_ids))).all()
    return all(status in ("succeeded", "failed") for status in statuses)


def workers_listening(count: int) -> bool:
    return len(Worker.all(queue=dispatch.queue())) >= count


def test_counts_of_runs_executed_by_two_worker_processes_add_up(app, client, publish, start, start_process,
                                                                  ledger):
    sleepy = publish({"trigger": {"type": "manual"}, "steps": [
        {"id": "nap", "uses": "test.sleep", "with": {"ledger": str(ledger), "mark": "nap", "seconds": 0.3}},
        {"id": "done", "uses": "core.set", "with": {"ok": True}},
    ]}, name="Sleepy")
    failing = publish({"trigger": {"type": "manual"}, "steps": [
        {"id": "boom", "uses": "test.flaky",
         "with": {"ledger": str(ledger), "mark": "boom", "failures": 99, "retryable": False}},
    ]}, name="Failing")
    before = scrape(client)
    env = {"RELAY_WORKER_CLASS": "simple", ENV: app.config[ENV]}
    workers = [start_process("worker", env=env), start_process("worker", env=env)]
    wait_for(lambda: workers_listening(2), timeout=30, message="\n".join(w.output() for w in workers))

    ids = [start(sleepy) for _ in range(6)] + [start(failing) for _ in range(2)]
    wait_for(lambda: finished(ids), timeout=60, message="\n".join(w.output() for w in workers))
    for worker in workers:
        worker.stop()
    after = scrape(client)

    pickers = set(db.session.scalars(sa.select(ExecutionEvent.reason).where(ExecutionEvent.to_status == "running")))
    assert {int(re.sub(r".*:", "", reason)) for reason in pickers} == {w.popen.pid for w in workers}
    sleepy_id, failing_id = str(sleepy.id), str(failing.id)
    assert grown(before, after, "relay_executions_started_total", workflow=sleepy_id, trigger="manual") == 6
    assert grown(before, after, "relay_executions_started_total", workflow=failing_id, trigger="manual") == 2
    assert grown(before, after, "relay_executions_finished_total", workflow=sleepy_id, status="succeeded") == 6
    assert grown(before, after, "relay_executions_finished_total", workflow=failing_id, status="failed") == 2
    assert grown(before, after, "relay_executions_finished_total", workflow=sleepy_id, status="failed") == 0
    assert grown(before, after, "relay_step_duration_seconds_count", action="test.sleep") == 6
    assert grown(before, after, "relay_step_duration_seconds_count", action="core.set") == 6
    assert grown(before, after, "relay_step_duration_seconds_count", action="test.flaky") == 2
    # Every nap took at least 0.3 s: none of them is in the buckets below that.
    assert grown(before, after, "relay_step_duration_seconds_bucket", action="test.sleep", le="0.25") == 0
    assert grown(before, after, "relay_step_duration_seconds_sum", action="test.sleep") >= 6 * 0.3


def test_webhook_requests_are_counted_by_response_code_and_their_runs_by_trigger(client, publish):
    workflow = publish({"trigger": {"type": "webhook"}, "steps": [{"id": "s", "uses": "core.set", "with": {}}]})
    before = scrape(client)

    assert client.post(f"/hooks/{workflow.hook_token}", json={"n": 1}).status_code == 202
    assert client.post(f"/hooks/{workflow.hook_token}", json={"n": 2}).status_code == 202
    assert client.post("/hooks/no-such-hook-token-at-all", json={}).status_code == 404
    after = scrape(client)

    assert grown(before, after, "relay_webhook_requests_total", code="202") == 2
    assert grown(before, after, "relay_webhook_requests_total", code="404") == 1
    assert grown(before, after, "relay_executions_started_total", workflow=str(workflow.id), trigger="webhook") == 2


def test_queue_depth_is_the_number_of_runs_waiting_on_the_queue(client, publish, start, queue_name):
    workflow = publish({"trigger": {"type": "manual"}, "steps": [{"id": "s", "uses": "core.set", "with": {}}]})
    for _ in range(3):
        start(workflow)

    assert value(scrape(client), "relay_queue_depth", queue=queue_name) == 3


def test_cancelled_runs_count_as_finished_with_status_cancelled(client, publish, start):
    workflow = publish({"trigger": {"type": "manual"}, "steps": [{"id": "s", "uses": "core.set", "with": {}}]})
    execution_id = start(workflow)
    before = scrape(client)

    ingest.cancel_execution(db.session.get(Execution, execution_id))

    after = scrape(client)
    assert grown(before, after, "relay_executions_finished_total", workflow=str(workflow.id),
                 status="cancelled") == 1


def test_schedule_fires_and_missed_fire_times_are_counted(client, publish):
    workflow = publish(definition({"every": "1m"}))
    place_watermark(workflow, utc(2030, 1, 1, 9, 0))
    before = scrape(client)

    # Ten minutes late with a five-minute grace: 5 fire times are skipped, the 5 recent ones run once.
    fire_due(workflow.id, now=utc(2030, 1, 1, 9, 10) + timedelta(seconds=1))

    after = scrape(client)
    assert grown(before, after, "relay_scheduler_fires_total") == 1
    assert grown(before, after, "relay_scheduler_misses_total") == 5


def test_a_set_token_is_required_in_the_authorization_header(settings):
    client = create_app({**settings, "RELAY_METRICS_TOKEN": TOKEN}).test_client()

    missing = client.get("/metrics")
    wrong = client.get("/metrics", headers={"Authorization": "Bearer metrics-token-0123456789abcdeX"})
    right = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    assert (missing.status_code, wrong.status_code, right.status_code) == (401, 401, 200)
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert "RELAY_METRICS_TOKEN" in missing.get_json()["error"]["message"]
    assert TOKEN not in wrong.get_data(as_text=True)
    assert "relay_queue_depth" in right.get_data(as_text=True)


def test_without_a_token_setting_metrics_are_open(client):
    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")


def metric_pids(directory: Path) -> set[int]:
    return {int(path.stem.rsplit("_", 1)[1]) for path in directory.glob("*_*.db")}


def test_relay_up_clears_ended_processes_files_and_all_its_processes_share_the_directory(relay_up, tmp_path):
    from prometheus_client.parser import text_string_to_metric_families  # noqa: PLC0415 - see tests/ops/scraping.py

    directory = tmp_path / "metrics"
    directory.mkdir()
    ended = subprocess.Popen(["true"])
    ended.wait()
    stale = directory / f"counter_{ended.pid}.db"
    stale.write_bytes(b"left by an earlier run")
    (directory / "notes.txt").write_text("not a metrics file")

    up = relay_up(PROMETHEUS_MULTIPROC_DIR=str(directory))
    up.wait_until_healthy()

    assert not stale.exists()
    assert (directory / "notes.txt").read_text() == "not a metrics file"
    # relay up itself, the web workers, the worker and the scheduler each keep files of their own there.
    wait_for(lambda: len(metric_pids(directory)) >= 4, timeout=30, message=up.output())
    with urllib.request.urlopen(f"http://127.0.0.1:{up.port}/metrics", timeout=10) as response:
        families = {family.name for family in text_string_to_metric_families(response.read().decode())}
    assert {"relay_scheduler_fires", "relay_scheduler_misses", "relay_queue_depth"} <= families
