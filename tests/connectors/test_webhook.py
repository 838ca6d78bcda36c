"""``webhook.send`` and the ``webhook`` connection type, checked the way a receiver would: deliveries recorded by
a real local server and verified with the standardwebhooks library."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from integrations.base import CallContext, ConnectorError
from integrations.webhook import WEBHOOK_CONNECTION, WebhookConnector
from tests.support.recording_server import RecordingServer, Reply

SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()


def context(attempt: int = 1, step_id: str = "notify") -> CallContext:
    return CallContext(execution_id=42, step_id=step_id, attempt=attempt, timeout=5)


def connection(**fields: Any) -> dict[str, Any]:
    return {"id": 1, "name": "receiver", "connector": "webhook", "signing_secret": SECRET, **fields}


@pytest.fixture
def receiver() -> Iterator[RecordingServer]:
    with RecordingServer() as running:
        yield running


def send(url: str, inputs: dict[str, Any] | None = None, conn: dict[str, Any] | None = None,
         ctx: CallContext | None = None) -> dict[str, Any]:
    return WebhookConnector().run("send", {"url": url, "payload": {"order": 7}, **(inputs or {})},
                                  conn or connection(), ctx or context())


def test_delivery_verifies_with_the_standard_webhooks_library(receiver: RecordingServer) -> None:
    output = send(receiver.url, {"payload": {"order": 7, "note": "café"}})

    delivered = receiver.requests[0]
    assert delivered.method == "POST"
    assert Webhook(SECRET).verify(delivered.body, delivered.headers) == {"order": 7, "note": "café"}
    assert output["status"] == 200
    assert output["body"] == {"ok": True}
    assert output["webhook_id"] == delivered.header("webhook-id") == context().delivery_id


def test_body_is_compact_json_sent_as_application_json(receiver: RecordingServer) -> None:
    send(receiver.url, {"payload": {"a": [1, 2], "b": None}})

    assert receiver.requests[0].body == b'{"a":[1,2],"b":null}'
    assert receiver.requests[0].header("Content-Type") == "application/json"


def test_tampered_body_fails_verification(receiver: RecordingServer) -> None:
    send(receiver.url)

    delivered = receiver.requests[0]
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(delivered.body.replace(b"7", b"8"), delivered.headers)


def test_replayed_delivery_with_an_old_timestamp_fails_verification(receiver: RecordingServer) -> None:
    send(receiver.url)

    delivered = receiver.requests[0]
    replayed = {**delivered.headers, "webhook-timestamp": str(int(time.time()) - 600)}
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(delivered.body, replayed)


def test_retries_of_one_step_share_the_webhook_id_and_each_verifies(receiver: RecordingServer) -> None:
    send(receiver.url, ctx=context(attempt=1))
    send(receiver.url, ctx=context(attempt=2))

    first, second = receiver.requests
    assert first.header("webhook-id") == second.header("webhook-id")
    assert int(first.header("webhook-timestamp") or 0) <= int(second.header("webhook-timestamp") or 0)
    for delivered in (first, second):
        Webhook(SECRET).verify(delivered.body, delivered.headers)


def test_different_steps_get_different_webhook_ids(receiver: RecordingServer) -> None:
    send(receiver.url, ctx=context(step_id="first"))
    send(receiver.url, ctx=context(step_id="second"))

    assert receiver.requests[0].header("webhook-id") != receiver.requests[1].header("webhook-id")


def test_event_type_wraps_the_payload_as_type_and_data(receiver: RecordingServer) -> None:
    send(receiver.url, {"event_type": "invoice.paid", "payload": {"id": "inv_1"}})

    delivered = receiver.requests[0]
    assert Webhook(SECRET).verify(delivered.body, delivered.headers) == {"type": "invoice.paid",
                                                                          "data": {"id": "inv_1"}}


def test_malformed_event_type_is_refused_before_sending(receiver: RecordingServer) -> None:
    with pytest.raises(ConnectorError, match="event_type"):
        send(receiver.url, {"event_type": "invoice paid!"})

    assert receiver.requests == []


def test_connection_default_headers_are_sent_and_step_headers_override_them(receiver: RecordingServer) -> None:
    conn = connection(headers={"X-Api-Key": "k-123", "X-Tenant": "default"})

    send(receiver.url, {"headers": {"x-tenant": "acme"}}, conn)

    delivered = receiver.requests[0]
    assert delivered.header("X-Api-Key") == "k-123"
    assert delivered.header("X-Tenant") == "acme"


@pytest.mark.parametrize("name", ["webhook-id", "Webhook-Signature", "webhook-timestamp", "Content-Type"])
def test_step_headers_cannot_override_signature_headers(receiver: RecordingServer, name: str) -> None:
    with pytest.raises(ConnectorError, match="cannot be overridden"):
        send(receiver.url, {"headers": {name: "forged"}})

    assert receiver.requests == []


def test_service_unavailable_is_retryable(receiver: RecordingServer) -> None:
    receiver.reply(Reply(503, "busy"))

    with pytest.raises(ConnectorError, match="503") as caught:
        send(receiver.url)

    assert caught.value.retryable


def test_too_many_requests_carries_retry_after(receiver: RecordingServer) -> None:
    receiver.reply(Reply(429, "slow down", {"Retry-After": "30"}))

    with pytest.raises(ConnectorError, match="429") as caught:
        send(receiver.url)

    assert caught.value.retryable
    assert caught.value.retry_after == 30.0


def test_bad_request_is_not_retryable(receiver: RecordingServer) -> None:
    receiver.reply(Reply(400, "bad"))

    with pytest.raises(ConnectorError, match="400") as caught:
        send(receiver.url)

    assert not caught.value.retryable


def test_redirect_is_a_failure_and_not_followed(receiver: RecordingServer) -> None:
    receiver.reply(Reply(308, b"", {"Location": "/elsewhere"}))

    with pytest.raises(ConnectorError, match="do not follow redirects") as caught:
        send(receiver.url)

    assert [r.path for r in receiver.requests] == ["/"]
    assert not caught.value.retryable


def test_valid_connection_has_no_problems() -> None:
    assert WEBHOOK_CONNECTION.validate({"signing_secret": SECRET, "headers": {"X-Api-Key": "k"}}) == {}


@pytest.mark.parametrize(("secret", "problem"), [
    ("c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0", "must start with whsec_"),
    ("whsec_not*base64!", "not valid base64"),
    ("whsec_" + base64.b64encode(b"k" * 16).decode(), "this one has 16"),
    ("whsec_" + base64.b64encode(b"k" * 65).decode(), "this one has 65"),
])
def test_invalid_signing_secret_is_a_validate_problem_that_hides_it(secret: str, problem: str) -> None:
    problems = WEBHOOK_CONNECTION.validate({"signing_secret": secret})

    assert problem in problems["signing_secret"]
    assert secret not in problems["signing_secret"]


def test_reserved_default_header_is_a_validate_problem() -> None:
    problems = WEBHOOK_CONNECTION.validate({"signing_secret": SECRET, "headers": {"webhook-id": "x"}})

    assert "webhook-id" in problems["headers"]


def test_check_confirms_the_secret_and_says_nothing_was_sent() -> None:
    assert "nothing was sent" in WEBHOOK_CONNECTION.check({"signing_secret": SECRET}, 5)


def test_check_rejects_a_secret_that_does_not_decode() -> None:
    with pytest.raises(ConnectorError, match="signing_secret"):
        WEBHOOK_CONNECTION.check({"signing_secret": "whsec_%%%"}, 5)


def test_signing_secret_is_a_write_only_secret_field() -> None:
    assert WEBHOOK_CONNECTION.secret_fields == frozenset({"signing_secret"})
    assert WEBHOOK_CONNECTION.schema()["properties"]["signing_secret"]["writeOnly"] is True
