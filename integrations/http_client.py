"""Plain HTTP for connectors (webhook, http): bounded in time and size, with one mapping from what went
wrong to a ``ConnectorError`` — 408, 429 and 5xx are retryable (honouring Retry-After), other 4xx are not,
and a timeout after the request went out leaves the outcome unknown."""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
from urllib3.exceptions import NewConnectionError

from integrations.base import ConnectorError

MAX_REDIRECTS = 5
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 3600.0
USER_AGENT = "Relay-Automation/1.0"


@dataclass(frozen=True)
class HttpResult:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes
    url: str

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def session() -> requests.Session:
    """A session that ignores proxy variables: a proxy would resolve the target itself, past the guard."""
    http = requests.Session()
    http.trust_env = False
    http.max_redirects = MAX_REDIRECTS
    http.headers["User-Agent"] = USER_AGENT
    return http


def send(method: str, url: str, *, timeout: float, max_bytes: int, **kwargs: Any) -> HttpResult:
    """Make one request and read at most ``max_bytes`` of the answer.

    Raises:
        ConnectorError: the request could not be made, timed out or the answer is too large.
    """
    with session() as http:
        try:
            response = http.request(method, url, timeout=timeout, stream=True, **kwargs)
        except requests.RequestException as exc:
            raise transport_error(exc, method, url) from exc
        with response:
            try:
                body = _read_limited(response, max_bytes)
            except requests.RequestException as exc:
                raise transport_error(exc, method, url, sent=True) from exc
            return HttpResult(response.status_code, response.reason or "", dict(response.headers), body,
                              response.url)


def _read_limited(response: requests.Response, max_bytes: int) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
        raise ConnectorError(f"the response is {int(declared)} bytes, more than the {max_bytes} a step may keep")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > max_bytes:
            raise ConnectorError(f"the response is larger than the {max_bytes} bytes a step may keep")
        chunks.append(chunk)
    return b"".join(chunks)


def transport_error(exc: requests.RequestException, method: str, url: str, *, sent: bool = False) -> ConnectorError:
    """A ``ConnectorError`` for a request that got no complete answer."""
    target = f"{method} {url}"
    if isinstance(exc, requests.ConnectTimeout):
        return ConnectorError(f"{target}: could not connect in time", retryable=True)
    if isinstance(exc, requests.Timeout) or sent:
        return ConnectorError(f"{target}: no complete answer in time; the request may have been received",
                              retryable=True, outcome_unknown=True)
    if isinstance(exc, requests.TooManyRedirects):
        return ConnectorError(f"{target}: more than {MAX_REDIRECTS} redirects")
    if isinstance(exc, requests.exceptions.SSLError):
        return ConnectorError(f"{target}: TLS failed: {_reason(exc)}")
    if isinstance(exc, requests.ConnectionError) and _never_connected(exc):
        return ConnectorError(f"{target}: could not connect: {_reason(exc)}", retryable=True)
    if isinstance(exc, requests.ConnectionError):
        # The connection broke after it was made: the request may have been received and acted on.
        return ConnectorError(f"{target}: the connection broke before a complete answer ({_reason(exc)}); "
                              "the request may have been received", retryable=True, outcome_unknown=True)
    return ConnectorError(f"{target}: {_reason(exc)}")


def status_error(result: HttpResult, method: str, url: str) -> ConnectorError | None:
    """None for a 2xx/3xx answer, else the error a step should fail with."""
    if result.status < 400:
        return None
    snippet = " ".join(result.text.split())[:300]
    message = f"{method} {url} answered {result.status} {result.reason}".rstrip() + (f": {snippet}" if snippet
                                                                                     else "")
    retryable = result.status in RETRYABLE_STATUSES
    retry_after = retry_after_seconds(result.headers.get("Retry-After")) if retryable else None
    return ConnectorError(message, retryable=retryable, retry_after=retry_after)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), capped at an hour."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max((when - (now or datetime.now(UTC))).total_seconds(), 0.0), MAX_RETRY_AFTER)


def _never_connected(exc: BaseException) -> bool:
    """Whether the failure happened before a connection existed (DNS, refused, unreachable, the guard)."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, NewConnectionError):
            return True
        # requests wraps urllib3's MaxRetryError, whose ``reason`` holds the real cause.
        linked = [getattr(current, "reason", None), current.__cause__, current.__context__, *current.args]
        pending.extend(item for item in linked if isinstance(item, BaseException))
    return False


def _reason(exc: BaseException) -> str:
    # requests nests the cause several levels deep; the innermost message is the one a person can act on.
    seen: set[int] = set()
    while exc.__context__ is not None and id(exc) not in seen:
        seen.add(id(exc))
        exc = exc.__context__
    args = getattr(exc, "args", ())
    return str(args[-1] if args and isinstance(args[-1], str | Exception) else exc) or type(exc).__name__
