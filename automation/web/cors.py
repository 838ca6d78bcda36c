"""CORS for ``/api``: off unless ``RELAY_CORS_ORIGINS`` names the origins whose scripts may call it.

An allowed origin's preflight (OPTIONS with ``Access-Control-Request-Method``) is answered 204 before the
token check, since browsers send it without credentials; every API answer to an allowed origin names that
origin (or ``*`` when the list is ``*``). Credentials are never allowed: the API takes a bearer token,
which scripts send themselves, never cookies. Other origins get no CORS headers, so their browsers refuse.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request

ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE"
ALLOW_HEADERS = "Authorization, Content-Type, Idempotency-Key, X-Request-ID"
EXPOSE_HEADERS = "Location, Retry-After"
PREFLIGHT_MAX_AGE_SECONDS = 600


def init_cors(app: Flask) -> None:
    if not app.config["RELAY_CORS_ORIGINS"]:
        return
    app.before_request(answer_preflight)
    app.after_request(allow_origin)


def _api_request() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def allowed_origin() -> str | None:
    """The value of Access-Control-Allow-Origin for this request, or None when its origin is not allowed."""
    origin = request.headers.get("Origin", "").lower()
    allowed = current_app.config["RELAY_CORS_ORIGINS"]
    if not origin or not _api_request():
        return None
    if "*" in allowed:
        return "*"
    return origin if origin in allowed else None


def answer_preflight() -> Response | None:
    if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
        return None
    if allowed_origin() is None:
        return None
    response = Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = ALLOW_METHODS
    response.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
    response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE_SECONDS)
    return response


def allow_origin(response: Response) -> Response:
    if not _api_request():
        return response
    # Caches must keep one answer per origin, as the header differs between them.
    response.vary.add("Origin")
    origin = allowed_origin()
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
    return response
