"""Reading API requests: JSON bodies and query parameters, each failure a clear 4xx ``ApiError``.

A body is accepted only if every database Relay runs on can store it as it is: PostgreSQL's JSONB has
no NaN or Infinity and no NUL character, and no UTF-8 text holds a lone surrogate (``"\\ud800"``), so
those are refused here instead of failing at the commit as a 500.
"""

from __future__ import annotations

import json
import math
from typing import Any

from flask import current_app, request

from automation.scoping import MAX_ID
from automation.web.errors import ApiError

MAX_DEPTH = 64


def json_object(*, allow_empty: bool = False) -> dict[str, Any]:
    """The request body as a JSON object.

    Raises:
        ApiError: 415 for a non-JSON content type, 400 for malformed JSON, a non-object, or a value that
            cannot be stored (see the module docstring).
    """
    raw = request.get_data(cache=True)
    if not raw.strip():
        if allow_empty:
            return {}
        raise ApiError(400, "the request body must be a JSON object")
    if not request.is_json:
        raise ApiError(415, "send the body as JSON with 'Content-Type: application/json'")
    try:
        data = parse_json(raw)
    except TooDeep:
        raise ApiError(400, f"the request body is nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError both are
        raise ApiError(400, f"the request body is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ApiError(400, f"the request body must be a JSON object, not {_json_type(data)}")
    problem = storable_problem(data)
    if problem:
        raise ApiError(400, f"the request body cannot be stored: {problem}")
    return data


class TooDeep(ValueError):
    """JSON nested deeper than Python's parser can follow."""


def parse_json(raw: bytes) -> Any:
    """Strict JSON: NaN, Infinity and numbers too large for a float are errors, as PostgreSQL cannot store them.

    Raises:
        TooDeep: nesting beyond the parser's recursion limit.
        ValueError: anything else that is not valid JSON (the message says what and where).
    """
    try:
        return json.loads(raw, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        raise TooDeep("nested too deeply") from None


def storable_problem(value: Any, path: str = "body", depth: int = 0) -> str | None:
    """Why a parsed JSON value cannot be stored as it is, or None when it can."""
    if depth > MAX_DEPTH:
        return f"{path} is nested more than {MAX_DEPTH} levels deep"
    if isinstance(value, str):
        return _text_problem(value, path)
    if isinstance(value, dict):
        for key, item in value.items():
            problem = _text_problem(key, f"{path} key {key!r}") or storable_problem(item, f"{path}.{key}", depth + 1)
            if problem:
                return problem
    elif isinstance(value, list):
        for index, item in enumerate(value):
            problem = storable_problem(item, f"{path}[{index}]", depth + 1)
            if problem:
                return problem
    return None


def _text_problem(text: str, path: str) -> str | None:
    if "\x00" in text:
        return f"{path} contains a NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return f"{path} contains an unpaired surrogate (\\ud800-\\udfff)"
    return None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large for a JSON number")
    return value


def _json_type(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


def int_arg(name: str, default: int | None = None, *, minimum: int = 1, maximum: int | None = None) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    # Stricter than int(), which also takes " 5", "1_000" and non-ASCII digits.
    if not (raw.isascii() and raw.removeprefix("-").isdigit()):
        raise ApiError(400, f"query parameter '{name}' must be a whole number", details={"parameter": name})
    value = int(raw)
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
        raise ApiError(400, f"query parameter '{name}' must be {bound}", details={"parameter": name})
    return value


def page_args() -> tuple[int, int]:
    """``page`` (from 1) and ``per_page`` (default ``RELAY_PAGE_SIZE``, capped at ``RELAY_MAX_PAGE_SIZE``)."""
    config = current_app.config
    page = int_arg("page", 1, maximum=MAX_ID) or 1
    per_page = int_arg("per_page", config["RELAY_PAGE_SIZE"]) or config["RELAY_PAGE_SIZE"]
    return page, min(per_page, config["RELAY_MAX_PAGE_SIZE"])
