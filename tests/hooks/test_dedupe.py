"""De-duplication: a repeated delivery id for the same workflow answers 200 with the first run and starts
nothing, also when the repeats arrive at the same moment on a real threaded server."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.hooks.conftest import stored_executions, webhook

pytestmark = pytest.mark.storage


@pytest.mark.parametrize("header", ["webhook-id", "Idempotency-Key", "X-GitHub-Delivery"])
def test_a_repeated_delivery_id_returns_the_first_run_and_starts_nothing(client, make_hook, header):
    path = make_hook()["path"]
    first = client.post(path, json={"n": 1}, headers={header: "delivery-1"})

    repeat = client.post(path, json={"n": 1}, headers={header: "delivery-1"})

    assert first.status_code == 202
    assert repeat.status_code == 200
    assert repeat.get_json() == {"execution_id": first.get_json()["execution_id"], "status": "queued",
                                 "duplicate": True}
    assert len(stored_executions()) == 1


def test_different_delivery_ids_start_different_runs(client, make_hook):
    path = make_hook()["path"]

    client.post(path, json={}, headers={"webhook-id": "a"})
    client.post(path, json={}, headers={"webhook-id": "b"})

    assert [e.idempotency_key for e in stored_executions()] == ["hook:a", "hook:b"]


def test_the_same_delivery_id_on_two_workflows_starts_a_run_on_each(client, make_hook):
    first, second = make_hook()["path"], make_hook()["path"]

    assert client.post(first, json={}, headers={"webhook-id": "same"}).status_code == 202
    assert client.post(second, json={}, headers={"webhook-id": "same"}).status_code == 202


def test_a_delivery_id_longer_than_the_column_is_hashed_and_still_deduplicates(client, make_hook):
    path = make_hook()["path"]
    long_id = "x" * 1000

    first = client.post(path, json={}, headers={"Idempotency-Key": long_id})
    repeat = client.post(path, json={}, headers={"Idempotency-Key": long_id})

    assert (first.status_code, repeat.status_code) == (202, 200)
    [execution] = stored_executions()
    assert execution.idempotency_key.startswith("hook:sha256:") and len(execution.idempotency_key) < 255


def test_dedupe_false_runs_every_delivery(client, make_hook):
    path = make_hook(webhook(dedupe=False))["path"]

    client.post(path, json={}, headers={"webhook-id": "a"})
    client.post(path, json={}, headers={"webhook-id": "a"})

    assert len(stored_executions()) == 2


def test_dedupe_can_use_the_senders_own_delivery_header(client, make_hook):
    path = make_hook(webhook(dedupe={"header": "X-Shopify-Webhook-Id"}))["path"]

    client.post(path, json={}, headers={"X-Shopify-Webhook-Id": "s1"})
    client.post(path, json={}, headers={"X-Shopify-Webhook-Id": "s1"})
    client.post(path, json={}, headers={"webhook-id": "ignored-now"})
    client.post(path, json={}, headers={"webhook-id": "ignored-now"})

    assert [e.idempotency_key for e in stored_executions()] == ["hook:s1", None, None]


def test_fifty_concurrent_copies_of_one_delivery_start_one_run(make_hook, live_server):
    url = live_server + make_hook()["path"]

    def post(_: int) -> tuple[int, int]:
        response = requests.post(url, json={"order": 42}, headers={"webhook-id": "evt_concurrent"}, timeout=30)
        return response.status_code, response.json()["execution_id"]

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(post, range(50)))

    assert len(stored_executions()) == 1
    assert {execution_id for _, execution_id in answers} == {stored_executions()[0].id}
    assert sorted(status for status, _ in answers).count(202) == 1
    assert all(status in (200, 202) for status, _ in answers)
