"""Reading API requests: JSON bodies and query parameters, each failure a clear 4xx ``ApiError``."""

from __future__ import annotations

from typing import Any

from flask import current_app, request

from automation.web.errors import ApiError


def json_object(*, allow_empty: bool = False) -> dict[str, Any]:
    """The request body as a JSON object.

    Raises:
        ApiError: 415 for a non-JSON content type, 400 for malformed JSON or a non-object.
    """
    raw = request.get_data(cache=True)
    if not raw.strip():
        if allow_empty:
            return {}
        raise ApiError(400, "the request body must be a JSON object")
    if not request.is_json:
        raise ApiError(415, "send the body as JSON with 'Content-Type: application/json'")
    data = request.get_json(silent=True)
    if data is None:
        raise ApiError(400, "the request body is not valid JSON")
    if not isinstance(data, dict):
        raise ApiError(400, f"the request body must be a JSON object, not {type(data).__name__}")
    return data


def int_arg(name: str, default: int | None = None, *, minimum: int = 1, maximum: int | None = None) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"query parameter '{name}' must be a whole number", details={"parameter": name}) from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
        raise ApiError(400, f"query parameter '{name}' must be {bound}", details={"parameter": name})
    return value


def page_args() -> tuple[int, int]:
    config = current_app.config
    page = int_arg("page", 1) or 1
    per_page = int_arg("per_page", config["RELAY_PAGE_SIZE"], maximum=config["RELAY_MAX_PAGE_SIZE"])
    return page, per_page or config["RELAY_PAGE_SIZE"]
