"""One error shape for the API: ``{"error": {"code", "message", "details"}}`` with the right status.

Every failure under ``/api/`` and ``/hooks/`` (our own ``ApiError``, Werkzeug's HTTP errors such as
404/405/413, and unexpected exceptions) goes through ``error_response``; pages keep Flask's defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    500: "internal_error",
}

INTERNAL_ERROR = "something went wrong on our side; the error has been logged"


class ApiError(Exception):
    """Raised by API views; rendered by ``error_response``. ``code`` defaults to the one for ``status``."""

    def __init__(
        self, status: int, message: str, *, code: str | None = None, details: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or CODES.get(status, "error")
        self.message = message
        self.details = details
        self.headers = dict(headers or {})


def error_response(
    status: int, message: str, *, code: str | None = None, details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    response = jsonify(error={"code": code or CODES.get(status, "error"), "message": message, "details": details})
    response.status_code = status
    response.headers.update(headers or {})
    return response


def is_api_request() -> bool:
    """API and incoming-webhook paths: their callers are programs, which get JSON errors, never HTML."""
    return request.path == "/api" or request.path.startswith(("/api/", "/hooks/"))


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.message, code=exc.code, details=exc.details, headers=exc.headers)

    # Unexpected exceptions are left to Flask on purpose: ``handle_exception`` logs them with the traceback,
    # sends ``got_request_exception`` (Sentry listens there) and then asks this handler for the 500.
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response | HTTPException:
        if not is_api_request():
            return exc
        status = exc.code or 500
        messages = {
            404: "no such resource",
            405: f"{request.method} is not allowed here",
            413: f"the request body is larger than {app.config['MAX_CONTENT_LENGTH']} bytes",
        }
        message = INTERNAL_ERROR if status >= 500 else messages.get(status, exc.description or "request failed")
        allow = exc.get_response().headers.get("Allow") if status == 405 else None
        return error_response(status, message, headers={"Allow": allow} if allow else None)
