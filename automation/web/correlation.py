"""The correlation id of each web request: taken from an incoming ``X-Request-ID`` or ``X-Correlation-ID``
header when it is usable (at most 64 printable ASCII characters, without spaces), otherwise a new random
one. It is bound to the request's log lines (automation/logs.py), stored on any execution the request
starts (automation/ingest.py), so the worker logs with it too, and echoed in the ``X-Request-ID`` response
header. An unusable header is replaced, not refused: it is tracing metadata a proxy may have added.
"""

from __future__ import annotations

import uuid

from flask import Flask, Response, g, request

from automation import logs

HEADERS = ("X-Request-ID", "X-Correlation-ID")
RESPONSE_HEADER = "X-Request-ID"
MAX_LENGTH = 64  # Execution.correlation_id is 64 characters


def usable(value: str | None) -> str | None:
    value = (value or "").strip()
    if 0 < len(value) <= MAX_LENGTH and value.isascii() and value.isprintable() and " " not in value:
        return value
    return None


def _begin() -> None:
    found = next((value for value in (usable(request.headers.get(name)) for name in HEADERS) if value), None)
    g.correlation_id = found or uuid.uuid4().hex
    g.correlation_token = logs.bind(correlation_id=g.correlation_id)


def _echo(response: Response) -> Response:
    if "correlation_id" in g:
        response.headers[RESPONSE_HEADER] = g.correlation_id
    return response


def _end(_exc: BaseException | None) -> None:
    token = g.pop("correlation_token", None)
    if token is not None:
        logs.unbind(token)


def init_correlation(app: Flask) -> None:
    # First in line, so the log lines of every other before_request hook carry the id.
    app.before_request_funcs.setdefault(None, []).insert(0, _begin)
    app.after_request(_echo)
    app.teardown_request(_end)
