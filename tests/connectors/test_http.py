"""``http.request`` against a real local HTTP server: what is sent, what comes back as output, and how limits
and failures surface."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from integrations.base import CallContext, ConnectorError
from integrations.http import HttpConnector
from tests.support.recording_server import RecordingServer, Reply

CONTEXT = CallContext(execution_id=1, step_id="call", attempt=1, timeout=5)


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    with RecordingServer() as running:
        yield running


def request(inputs: dict[str, Any], context: CallContext = CONTEXT) -> dict[str, Any]:
    return HttpConnector().run("request", inputs, None, context)


def test_get_sends_query_and_returns_status_json_and_lowercased_headers(server: RecordingServer) -> None:
    server.reply(Reply(200, {"id": 7}, {"X-Request-Id": "abc"}))

    output = request({"url": f"{server.url}/items", "query": {"q": "blue shoes", "tag": ["a", "b"], "n": 3}})

    assert server.requests[0].method == "GET"
    assert server.requests[0].path == "/items"
    assert server.requests[0].query == {"q": ["blue shoes"], "tag": ["a", "b"], "n": ["3"]}
    assert output["status"] == 200
    assert output["json"] == {"id": 7}
    assert output["text"] is None
    assert output["headers"]["x-request-id"] == "abc"
    assert output["headers"]["content-type"] == "application/json"


def test_post_json_body_arrives_as_json(server: RecordingServer) -> None:
    request({"method": "POST", "url": server.url, "json": {"name": "Ada", "tags": [1, 2]}})

    received = server.requests[0]
    assert received.method == "POST"
    assert received.header("Content-Type") == "application/json"
    assert received.json() == {"name": "Ada", "tags": [1, 2]}


def test_post_form_body_arrives_as_form_fields(server: RecordingServer) -> None:
    request({"method": "post", "url": server.url, "form": {"name": "Ada Lovelace", "opt": ["x", "y"], "ok": True}})

    received = server.requests[0]
    assert received.header("Content-Type") == "application/x-www-form-urlencoded"
    assert received.form() == {"name": ["Ada Lovelace"], "opt": ["x", "y"], "ok": ["true"]}


def test_request_headers_are_sent(server: RecordingServer) -> None:
    request({"url": server.url, "headers": {"Authorization": "Bearer t0ken", "X-Count": 2}})

    assert server.requests[0].header("Authorization") == "Bearer t0ken"
    assert server.requests[0].header("X-Count") == "2"


def test_text_body_is_returned_as_text(server: RecordingServer) -> None:
    server.reply(Reply(200, "plain words"))

    output = request({"url": server.url})

    assert output["json"] is None
    assert output["text"] == "plain words"


def test_json_content_type_with_unparsable_body_is_returned_as_text(server: RecordingServer) -> None:
    server.reply(Reply(200, b"{not json", {"Content-Type": "application/json"}))

    output = request({"url": server.url})

    assert output["json"] is None
    assert output["text"] == "{not json"


def test_response_larger_than_the_limit_fails_naming_the_limit(server: RecordingServer) -> None:
    server.reply(Reply(200, "x" * 2000))
    small = CallContext(execution_id=1, step_id="call", attempt=1, timeout=5, max_response_bytes=1000)

    with pytest.raises(ConnectorError, match="1000") as caught:
        request({"url": server.url}, small)

    assert not caught.value.retryable


def test_redirect_is_followed_and_output_names_the_final_url(server: RecordingServer) -> None:
    server.reply(Reply(302, b"", {"Location": "/moved/here"}), Reply(200, {"done": True}))

    output = request({"url": f"{server.url}/start"})

    assert [r.path for r in server.requests] == ["/start", "/moved/here"]
    assert output["url"] == f"{server.url}/moved/here"
    assert output["json"] == {"done": True}


def test_server_slower_than_the_step_timeout_fails_with_unknown_outcome(server: RecordingServer) -> None:
    server.reply(Reply(200, "late", delay=1.5))
    quick = CallContext(execution_id=1, step_id="call", attempt=1, timeout=0.5)

    with pytest.raises(ConnectorError, match="in time") as caught:
        request({"url": server.url}, quick)

    assert caught.value.retryable
    assert caught.value.outcome_unknown


def test_json_and_form_together_are_refused_before_sending(server: RecordingServer) -> None:
    with pytest.raises(ConnectorError, match="either json or form"):
        request({"method": "POST", "url": server.url, "json": {"a": 1}, "form": {"a": "1"}})

    assert server.requests == []


def test_server_error_is_retryable_with_retry_after(server: RecordingServer) -> None:
    server.reply(Reply(503, "down", {"Retry-After": "7"}))

    with pytest.raises(ConnectorError, match="503") as caught:
        request({"url": server.url})

    assert caught.value.retryable
    assert caught.value.retry_after == 7.0


def test_client_error_fails_without_retry(server: RecordingServer) -> None:
    server.reply(Reply(404, "no such thing"))

    with pytest.raises(ConnectorError, match="404") as caught:
        request({"url": server.url})

    assert not caught.value.retryable


def test_unknown_method_is_refused() -> None:
    with pytest.raises(ConnectorError, match="method must be one of"):
        request({"method": "TRACE", "url": "http://example.com/"})


def test_header_value_with_line_break_is_refused() -> None:
    with pytest.raises(ConnectorError, match="line break"):
        request({"url": "http://example.com/", "headers": {"X-A": "1\r\nX-Injected: 2"}})


def test_input_schema_is_a_form_ready_json_schema() -> None:
    schema = HttpConnector().action("request").input_schema

    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["additionalProperties"] is False
    assert all(p.get("title") and p.get("description") for p in schema["properties"].values())
    assert not jsonschema.Draft202012Validator(schema).is_valid({"url": "http://x", "json": 1, "form": {}})


def test_json_body_keeps_a_content_type_given_in_any_case(server: RecordingServer) -> None:
    request({"method": "POST", "url": server.url, "json": {"a": 1},
             "headers": {"content-type": "application/vnd.api+json"}})

    assert server.requests[0].header("Content-Type") == "application/vnd.api+json"
