"""How ``integrations.http_client`` reads Retry-After and which answers fail a step, and whether retrying helps."""

from __future__ import annotations

import socket
import threading
from datetime import UTC, datetime

import pytest

from integrations.base import ConnectorError
from integrations.http_client import MAX_RETRY_AFTER, HttpResult, retry_after_seconds, send, status_error

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


def answer(status: int, reason: str = "", body: bytes = b"", **headers: str) -> HttpResult:
    return HttpResult(status, reason, {k.replace("_", "-"): v for k, v in headers.items()}, body,
                      "https://example.com/x")


@pytest.mark.parametrize(("value", "seconds"), [("120", 120.0), (" 5 ", 5.0), ("0", 0.0)])
def test_retry_after_delta_seconds(value: str, seconds: float) -> None:
    assert retry_after_seconds(value, NOW) == seconds


def test_retry_after_http_date_is_seconds_from_now() -> None:
    assert retry_after_seconds("Wed, 01 Jan 2025 12:01:30 GMT", NOW) == 90.0


def test_retry_after_date_in_the_past_means_now() -> None:
    assert retry_after_seconds("Wed, 01 Jan 2025 11:00:00 GMT", NOW) == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "1.5", "Wed, 45 Foo 2025"])
def test_retry_after_garbage_is_ignored(value: str | None) -> None:
    assert retry_after_seconds(value, NOW) is None


@pytest.mark.parametrize("value", ["999999", "Fri, 01 Jan 2027 00:00:00 GMT"])
def test_retry_after_is_capped_at_an_hour(value: str) -> None:
    assert retry_after_seconds(value, NOW) == MAX_RETRY_AFTER == 3600.0


@pytest.mark.parametrize("status", [200, 204, 302])
def test_success_and_redirect_statuses_are_not_errors(status: int) -> None:
    assert status_error(answer(status), "GET", "https://example.com/x") is None


def test_not_found_fails_without_retry_and_quotes_the_body() -> None:
    error = status_error(answer(404, "Not Found", b"no  such\nitem", Retry_After="5"), "GET", "https://example.com/x")

    assert error is not None
    assert error.message == "GET https://example.com/x answered 404 Not Found: no such item"
    assert not error.retryable
    assert error.retry_after is None


def test_too_many_requests_is_retryable_after_the_servers_delay() -> None:
    error = status_error(answer(429, "Too Many Requests", Retry_After="10"), "POST", "https://example.com/x")

    assert error is not None
    assert error.retryable
    assert error.retry_after == 10.0


def test_service_unavailable_is_retryable_without_a_delay_hint() -> None:
    error = status_error(answer(503, "Service Unavailable"), "POST", "https://example.com/x")

    assert error is not None
    assert error.retryable
    assert error.retry_after is None
    assert not error.outcome_unknown


def test_error_message_keeps_at_most_300_characters_of_the_body() -> None:
    error = status_error(answer(500, "", b"x" * 1000), "GET", "https://example.com/x")

    assert error is not None
    assert error.message == "GET https://example.com/x answered 500: " + "x" * 300


def _one_shot_server(answer: bytes | None) -> tuple[str, threading.Thread]:
    """A server that reads one request, then sends ``answer`` (None: nothing) and closes the connection."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        connection, _ = listener.accept()
        with connection, listener:
            connection.recv(65536)
            if answer is not None:
                connection.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}/", thread


def test_a_refused_connection_could_not_have_delivered_the_request() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    with pytest.raises(ConnectorError) as caught:
        send("POST", f"http://127.0.0.1:{port}/", timeout=2, max_bytes=1000, data=b"x")
    assert caught.value.retryable and not caught.value.outcome_unknown
    assert "could not connect" in caught.value.message


def test_a_connection_closed_after_the_request_leaves_the_outcome_unknown() -> None:
    url, thread = _one_shot_server(None)
    with pytest.raises(ConnectorError) as caught:
        send("POST", url, timeout=2, max_bytes=1000, data=b"charge the card")
    thread.join(timeout=5)
    assert caught.value.outcome_unknown and caught.value.retryable
    assert "may have been received" in caught.value.message


def test_a_complete_answer_is_read() -> None:
    url, thread = _one_shot_server(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    result = send("POST", url, timeout=2, max_bytes=1000, data=b"x")
    thread.join(timeout=5)
    assert (result.status, result.body) == (201, b"ok")
