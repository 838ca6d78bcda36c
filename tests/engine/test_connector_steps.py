"""Connector steps in the engine: retries against a real receiver, secrets kept out of every stored step,
connections checked by type, and key rotation keeping connections usable."""

from __future__ import annotations

import base64
import json

import pytest
import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook

from automation import connections
from automation.models import Connection, ExecutionStatus, StepRun, db
from automation.secret_box import EXTENSION, SecretBox, generate_key
from tests.engine.conftest import fast_forward, run, step_runs
from tests.support.recording_server import RecordingServer, Reply

pytestmark = pytest.mark.storage

SIGNING_SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()


@pytest.fixture
def receiver(ctx):
    ctx.config["RELAY_ALLOWED_HOSTS"] = "127.0.0.1"
    with RecordingServer() as server:
        yield server


@pytest.fixture
def hook_connection(workspace):
    return connections.create_connection(workspace.id, "Orders hook", "webhook",
                                         {"signing_secret": SIGNING_SECRET})


def notify(url: str, payload: object, **step: object) -> dict:
    return {"trigger": {"type": "manual"}, "steps": [
        {"id": "notify", "uses": "webhook.send", "connection": "Orders hook",
         "with": {"url": url, "payload": payload}, **step}]}


def test_receiver_failing_twice_then_answering_gives_three_attempts_and_success(
        publish, start, receiver, hook_connection):
    receiver.reply(Reply(503, "busy"), Reply(503, "busy"))
    workflow = publish(notify(receiver.url + "/hook", {"order": 7}, retry={"attempts": 3, "backoff": "1s"}))
    execution_id = start(workflow)
    for _ in range(2):
        assert run(execution_id).status == ExecutionStatus.WAITING.value
        fast_forward(execution_id)
    execution = run(execution_id)
    assert execution.status == ExecutionStatus.SUCCEEDED.value
    attempts = step_runs(execution_id)
    assert [(r.attempt, r.status) for r in attempts] == [(1, "failed"), (2, "failed"), (3, "succeeded")]
    assert "503" in (attempts[0].error or "") and attempts[0].retryable is True
    webhook = Webhook(SIGNING_SECRET)
    assert [webhook.verify(r.body, r.headers) for r in receiver.requests] == [{"order": 7}] * 3
    assert len({r.header("webhook-id") for r in receiver.requests}) == 1


def test_client_error_is_not_retried(publish, start, receiver, hook_connection):
    receiver.reply(Reply(400, "bad payload"))
    workflow = publish(notify(receiver.url + "/hook", {"order": 7}, retry={"attempts": 3, "backoff": "1s"}))
    execution = run(start(workflow))
    assert execution.status == ExecutionStatus.FAILED.value
    assert [r.status for r in step_runs(execution.id)] == ["failed"]
    assert len(receiver.requests) == 1


def test_secret_never_reaches_a_stored_step(publish, start, receiver, hook_connection):
    # The receiver echoes what it got, in an error: the secret would be in the input, the error and the output.
    receiver.reply(Reply(422, f"rejected {SIGNING_SECRET}"), Reply(200, {"echo": SIGNING_SECRET}))
    workflow = publish(notify(receiver.url + "/hook", {"note": f"{SIGNING_SECRET}"},
                              retry={"attempts": 2, "backoff": "1s"}))
    execution_id = start(workflow)
    run(execution_id)
    stored = json.dumps([[r.input, r.output, r.error] for r in step_runs(execution_id)])
    assert "[redacted]" in stored
    assert SIGNING_SECRET not in stored
    assert SIGNING_SECRET[6:] not in stored


def test_step_naming_a_connection_of_another_type_fails_clearly(publish, start, receiver, workspace):
    connections.create_connection(workspace.id, "Orders hook", "teams",
                                  {"webhook_url": "https://example.webhook.office.com/x"})
    execution = run(start(publish(notify(receiver.url + "/hook", {}))))
    assert execution.status == ExecutionStatus.FAILED.value
    assert "needs a webhook connection, but 'Orders hook' is a teams connection" in (execution.error or "")
    assert receiver.requests == []


def test_missing_connection_fails_without_calling_out(publish, start, receiver, workspace):
    execution = run(start(publish(notify(receiver.url + "/hook", {}))))
    assert execution.status == ExecutionStatus.FAILED.value
    assert "connection 'Orders hook' does not exist" in (execution.error or "")


def test_refused_address_is_a_step_error_naming_it(publish, start, ctx, hook_connection):
    ctx.config["RELAY_ALLOWED_HOSTS"] = ""
    with RecordingServer() as server:
        execution = run(start(publish(notify(server.url + "/hook", {}, retry={"attempts": 3}))))
    assert execution.status == ExecutionStatus.FAILED.value
    assert "refused to connect to 127.0.0.1" in (execution.error or "")
    assert [r.retryable for r in step_runs(execution.id)] == [False]
    assert server.requests == []


def test_rotation_keeps_every_connection_usable(ctx, publish, start, receiver, hook_connection):
    old_key = ctx.config["RELAY_SECRET_KEYS"]
    new_key = generate_key()
    before = db.session.get(Connection, hook_connection.id).secrets
    rotated, unreadable = connections.rotate_all(SecretBox([new_key, old_key]))
    assert (rotated, unreadable) == (1, [])
    ctx.extensions[EXTENSION] = SecretBox([new_key])
    db.session.expire_all()
    assert db.session.get(Connection, hook_connection.id).secrets != before
    execution = run(start(publish(notify(receiver.url + "/hook", {"after": "rotation"}))))
    assert execution.status == ExecutionStatus.SUCCEEDED.value
    assert Webhook(SIGNING_SECRET).verify(receiver.requests[0].body, receiver.requests[0].headers)


def test_removed_key_fails_the_step_with_what_to_do(ctx, publish, start, receiver, hook_connection):
    ctx.extensions[EXTENSION] = SecretBox([generate_key()])
    execution = run(start(publish(notify(receiver.url + "/hook", {}))))
    assert execution.status == ExecutionStatus.FAILED.value
    assert "cannot be decrypted with any key in RELAY_SECRET_KEYS" in (execution.error or "")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StepRun)) == 1
