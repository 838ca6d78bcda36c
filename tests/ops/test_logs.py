"""Structured logs: with LOG_FORMAT=json every line a real `relay worker` writes is one JSON object, and the
lines of a webhook-triggered run — the web request's and the worker's — carry one correlation id: the
caller's X-Request-ID / X-Correlation-ID when usable, otherwise one made for the request, echoed in the
response's X-Request-ID and stored on the execution, where the API finds the run by it."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from automation.accounts import create_api_token, create_user
from automation.logs import JsonFormatter
from automation.models import Execution, db
from tests.conftest import wait_for

pytestmark = pytest.mark.storage

HOOK = {"trigger": {"type": "webhook"}, "steps": [{"id": "greet", "uses": "core.set", "with": {"hi": "there"}}]}


def web_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The request's records as the JSON lines the web process would write."""
    formatter = JsonFormatter()
    return [json.loads(formatter.format(record)) for record in caplog.records]


def status_of(execution_id: int) -> str:
    db.session.expire_all()
    execution = db.session.get(Execution, execution_id)
    assert execution is not None
    return execution.status


def test_web_and_worker_lines_of_a_webhook_run_share_one_correlation_id(client, publish, start_process, caplog):
    workflow = publish(HOOK)
    caplog.set_level(logging.INFO)

    response = client.post(f"/hooks/{workflow.hook_token}", json={"name": "Ada"})

    assert response.status_code == 202
    execution_id = response.get_json()["execution_id"]
    correlation_id = response.headers["X-Request-ID"]
    web = [line for line in web_lines(caplog) if line.get("execution_id") == execution_id]
    assert web and {line["correlation_id"] for line in web} == {correlation_id}
    assert {line["workflow_id"] for line in web} == {workflow.id}

    worker = start_process("worker", env={"LOG_FORMAT": "json"})
    wait_for(lambda: status_of(execution_id) == "succeeded", timeout=30, message=worker.output())
    worker.stop()
    lines = [json.loads(line) for line in worker.output().splitlines() if line.strip()]
    ran = [line for line in lines if line.get("execution_id") == execution_id]
    assert {line["correlation_id"] for line in ran} == {correlation_id}
    assert [line["message"] for line in ran] == [f"execution {execution_id}: running workflow {workflow.id} (round 1)",
                                                 f"execution {execution_id} succeeded"]
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)


def test_a_callers_correlation_id_is_kept_echoed_and_stored(client, publish):
    workflow = publish(HOOK)

    response = client.post(f"/hooks/{workflow.hook_token}", json={}, headers={"X-Correlation-ID": "shop-order-77"})

    assert response.headers["X-Request-ID"] == "shop-order-77"
    assert db.session.get(Execution, response.get_json()["execution_id"]).correlation_id == "shop-order-77"


@pytest.mark.parametrize("header", ["x" * 65, "two words", "caf\u00e9"])
def test_an_unusable_request_id_is_replaced_by_a_new_one(client, publish, header):
    workflow = publish(HOOK)

    response = client.post(f"/hooks/{workflow.hook_token}", json={}, headers={"X-Request-ID": header})

    generated = response.headers["X-Request-ID"]
    assert generated != header and len(generated) == 32
    assert db.session.get(Execution, response.get_json()["execution_id"]).correlation_id == generated


def test_the_api_finds_the_runs_of_a_correlation_id(client, publish):
    workflow = publish(HOOK)
    wanted = client.post(f"/hooks/{workflow.hook_token}", json={}, headers={"X-Request-ID": "delivery-1"})
    client.post(f"/hooks/{workflow.hook_token}", json={}, headers={"X-Request-ID": "delivery-2"})
    create_user("owner@example.com", "correct horse battery", "owner")
    owner = {"Authorization": f"Bearer {create_api_token('owner@example.com')}"}

    found = client.get("/api/v1/executions?correlation_id=delivery-1", headers=owner)

    assert found.status_code == 200
    assert [item["id"] for item in found.get_json()["items"]] == [wanted.get_json()["execution_id"]]


def test_an_unusable_correlation_id_filter_is_refused_naming_the_parameter(client, publish):
    create_user("owner@example.com", "correct horse battery", "owner")
    owner = {"Authorization": f"Bearer {create_api_token('owner@example.com')}"}

    response = client.get("/api/v1/executions", query_string={"correlation_id": "two words"}, headers=owner)

    assert response.status_code == 400
    assert response.get_json()["error"]["details"] == {"parameter": "correlation_id"}


def test_every_response_carries_a_request_id(client):
    first, second = client.get("/health"), client.get("/health")

    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


def test_an_error_line_carries_its_traceback_in_one_json_object(caplog, ctx):
    caplog.set_level(logging.INFO)
    try:
        raise RuntimeError("the disk is full")
    except RuntimeError:
        logging.getLogger("relay.test").exception("could not write")

    [line] = web_lines(caplog)
    assert (line["level"], line["logger"], line["message"]) == ("ERROR", "relay.test", "could not write")
    assert "RuntimeError: the disk is full" in line["exception"]
