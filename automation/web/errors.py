"""One error shape for the API: ``{"error": {"code", "message", "details"}}`` with the right status.

Every failure under ``/api/`` (our own ``ApiError``, Werkzeug's HTTP errors such as 404/405/413, and
unexpected exceptions) goes through ``error_response``; pages and hooks keep Flask's defaults.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

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


class ApiError(Exception):
    """Raised by API views; rendered by ``error_response``."""

    def __init__(self, status: int, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or CODES.get(status, "error")
        self.message = message
        self.details = details


def error_response(status: int, message: str, *, code: str | None = None, details: Any = None) -> Response:
    response = jsonify(error={"code": code or CODES.get(status, "error"), "message": message, "details": details})
    response.status_code = status
    return response


def _is_api() -> bool:
    return request.path.startswith("/api/")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.message, code=exc.code, details=exc.details)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response | HTTPException:
        if not _is_api():
            return exc
        status = exc.code or 500
        messages = {
            404: "no such resource",
            405: f"{request.method} is not allowed here",
            413: f"the request body is larger than {app.config['MAX_CONTENT_LENGTH']} bytes",
        }
        response = error_response(status, messages.get(status, exc.description or "request failed"))
        if status == 405 and exc.get_response().headers.get("Allow"):
            response.headers["Allow"] = exc.get_response().headers["Allow"]
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response | tuple[str, int]:
        log.exception("unhandled error on %s %s", request.method, request.path)
        if _is_api():
            return error_response(500, "something went wrong on our side; the error has been logged")
        return "Internal Server Error", 500
