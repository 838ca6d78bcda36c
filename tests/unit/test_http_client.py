"""How ``integrations.http_client`` reads Retry-After and which answers fail a step, and whether retrying helps."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from integrations.http_client import MAX_RETRY_AFTER, HttpResult, retry_after_seconds, status_error

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
