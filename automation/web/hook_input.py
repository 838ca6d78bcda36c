"""Reading an incoming webhook request into the run's ``trigger``: body, headers, query and method, plus the
delivery id that de-duplicates it (the correlation id is the request's: automation/web/correlation.py). Every
refusal is a clear 4xx ``ApiError``.

Bodies by content type: JSON (``application/json``, ``*+json``) is parsed into any JSON value; form fields
(urlencoded or multipart) become an object, an uploaded file only by name, type and size; anything else is
text in its declared charset (UTF-8 by default). Text that cannot be decoded is refused with 415, since
runs store text and JSON, never bytes. An empty body is ``{}``.
"""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Collection, Iterable
from typing import Any

from flask import Request
from werkzeug.datastructures import FileStorage

from automation.web.errors import ApiError
from automation.web.request_input import MAX_DEPTH, TooDeep, parse_json, storable_problem

# Never stored with a run: credentials of the caller, whatever the workflow's verify scheme adds.
DROPPED_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
KEY_PREFIX = "hook:"
MAX_KEY_VALUE = 200  # Execution.idempotency_key is 255 characters


def payload(request: Request, raw: bytes, secret_headers: Collection[str]) -> dict[str, Any]:
    """``{"body", "headers", "query", "method"}`` for ``trigger``.

    Raises:
        ApiError: 400 for malformed JSON or a value that cannot be stored, 415 for undecodable text.
    """
    dropped = DROPPED_HEADERS | {name.lower() for name in secret_headers}
    data = {
        "body": _body(request, raw),
        "headers": {name.lower(): value for name, value in request.headers.items() if name.lower() not in dropped},
        "query": _fields(request.args.lists()),
        "method": request.method,
    }
    for part in ("body", "headers", "query"):
        problem = storable_problem(data[part], part)
        if problem:
            raise ApiError(400, f"the request cannot be stored: {problem}")
    return data


def _body(request: Request, raw: bytes) -> Any:
    if not raw.strip():
        return {}
    if request.is_json:
        return _json(raw)
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return {**_fields(request.form.lists()), **_fields(request.files.lists())}
    charset = request.mimetype_params.get("charset", "utf-8")
    try:
        return raw.decode(codecs.lookup(charset).name)
    except LookupError:
        raise ApiError(415, f"unknown charset {charset!r}; send UTF-8 text, JSON or form fields") from None
    except UnicodeDecodeError:
        raise ApiError(415, f"the body is not {charset} text; send UTF-8 text, JSON or form fields (binary "
                            "bodies are not accepted)") from None


def _json(raw: bytes) -> Any:
    try:
        return parse_json(raw)
    except TooDeep:
        raise ApiError(400, f"the JSON body is nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError both are
        raise ApiError(400, f"the body is not valid JSON ({exc}); fix it or send another Content-Type") from None


def _fields(lists: Iterable[tuple[str, list[Any]]]) -> dict[str, Any]:
    """One value as itself, a repeated field as a list of its values."""
    return {name: _value(values[0]) if len(values) == 1 else [_value(v) for v in values] for name, values in lists}


def _value(value: Any) -> Any:
    if isinstance(value, FileStorage):
        # The content stays out of the run (it may be binary and large); what was sent is still visible.
        size = value.stream.seek(0, 2)
        return {"filename": value.filename, "content_type": value.mimetype, "size": size}
    return value


def delivery_key(request: Request, headers: Iterable[str]) -> str | None:
    """``hook:<value>`` of the first delivery-id header present; long or non-ASCII ids are hashed to fit."""
    for name in headers:
        value = (request.headers.get(name) or "").strip()
        if value:
            if len(value) <= MAX_KEY_VALUE and value.isascii() and value.isprintable():
                return KEY_PREFIX + value
            return f"{KEY_PREFIX}sha256:{hashlib.sha256(value.encode()).hexdigest()}"
    return None
