"""The ``http.request`` action: one plain HTTP request to any URL the outbound policy allows, with its answer
as the step's output. Owns input checking (method, headers, query, a JSON or form body) and turning the answer
into output; sending, limits and failure semantics are ``integrations.http_client``'s."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from integrations import http_client
from integrations.base import Action, CallContext, Connector, ConnectorError
from integrations.outbound import check_url
from integrations.registry import register

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
# RFC 9110 token characters: anything else in a header name is refused by servers or splits the header.
HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")

_SCALAR = {"type": ["string", "number", "integer", "boolean"]}

INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "method": {"title": "Method", "description": "The HTTP method.", "type": "string", "enum": list(METHODS),
                   "default": "GET"},
        "url": {"title": "URL", "description": "An http:// or https:// address.", "type": "string",
                "minLength": 1},
        "headers": {"title": "Headers", "description": "Request headers, name to value.", "type": "object",
                    "additionalProperties": {"type": "string"}},
        "query": {"title": "Query parameters",
                  "description": "Added to the URL; a list value repeats the parameter.", "type": "object",
                  "additionalProperties": {"anyOf": [_SCALAR, {"type": "array", "items": _SCALAR}]}},
        "json": {"title": "JSON body", "description": "Any JSON value, sent as application/json."},
        "form": {"title": "Form body", "description": "Fields sent as application/x-www-form-urlencoded.",
                 "type": "object", "additionalProperties": {"anyOf": [_SCALAR, {"type": "array", "items": _SCALAR}]}},
    },
    "required": ["url"],
    "not": {"required": ["json", "form"]},
    "additionalProperties": False,
}

OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "status": {"type": "integer", "description": "The final HTTP status."},
        "headers": {"type": "object", "description": "Response headers, names in lower case.",
                    "additionalProperties": {"type": "string"}},
        "json": {"description": "The parsed body when the answer is JSON, else null."},
        "text": {"type": ["string", "null"], "description": "The body as text when it is not JSON, else null."},
        "url": {"type": "string", "description": "The final URL, after redirects."},
    },
    "required": ["status", "headers", "json", "text", "url"],
}


class HttpConnector(Connector):
    """``request`` is not marked idempotent because POST and PATCH are not: a request that timed out after
    being sent is therefore never repeated automatically, whatever its method."""

    key = "http"
    title = "HTTP"
    actions = (
        Action("request", "Send an HTTP request", INPUT_SCHEMA, OUTPUT_SCHEMA,
               description="Calls a URL and returns its status, headers and body. 4xx and 5xx answers fail the "
                           "step; 408, 429 and 5xx are retried."),
    )

    def run(
        self, action: str, inputs: dict[str, Any], connection: Mapping[str, Any] | None, context: CallContext
    ) -> dict[str, Any]:
        if action != "request":
            return super().run(action, inputs, connection, context)
        method = _method(inputs.get("method"))
        url = check_url(inputs.get("url"))
        kwargs: dict[str, Any] = {"headers": header_dict(inputs.get("headers"), "headers"),
                                  "params": _fields(inputs.get("query"), "query")}
        has_json, has_form = inputs.get("json") is not None, inputs.get("form") is not None
        if has_json and has_form:
            raise ConnectorError("give either json or form as the body, not both")
        if has_json:
            kwargs["data"] = _json_bytes(inputs["json"])
            if not any(name.lower() == "content-type" for name in kwargs["headers"]):
                kwargs["headers"]["Content-Type"] = "application/json"
        elif has_form:
            kwargs["data"] = _fields(inputs["form"], "form")
        result = http_client.send(method, url, timeout=context.timeout, max_bytes=context.max_response_bytes,
                                  **kwargs)
        error = http_client.status_error(result, method, url)
        if error is not None:
            raise error
        parsed, text = parse_body(result)
        return {"status": result.status, "headers": {k.lower(): v for k, v in result.headers.items()},
                "json": parsed, "text": text, "url": result.url}


def parse_body(result: http_client.HttpResult) -> tuple[Any, str | None]:
    """``(json, None)`` for a JSON answer that parses, else ``(None, text)``: a server that labels a broken
    body as JSON should not fail the step, and its text is what someone debugging it needs."""
    content_type = next((v for k, v in result.headers.items() if k.lower() == "content-type"), "")
    media = content_type.split(";", 1)[0].strip().lower()
    if result.body and (media == "application/json" or media.endswith("+json")):
        try:
            return json.loads(result.body), None
        except ValueError:
            pass
    return None, result.text


def header_dict(value: Any, what: str) -> dict[str, str]:
    """Headers from rendered input: an object of HTTP token names to single-line text values."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConnectorError(f"{what} must be an object of header names to values")
    headers: dict[str, str] = {}
    for name, item in value.items():
        if not isinstance(name, str) or not HEADER_NAME.match(name):
            raise ConnectorError(f"{what}: {name!r} is not a valid header name")
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise ConnectorError(f"{what}.{name} must be text")
        text = str(item)
        if "\r" in text or "\n" in text:
            # A line break would end the header and let the rest become a header of its own.
            raise ConnectorError(f"{what}.{name} must not contain a line break")
        headers[name] = text
    return headers


def _method(value: Any) -> str:
    method = "GET" if value is None else str(value).upper()
    if method not in METHODS:
        raise ConnectorError(f"method must be one of {', '.join(METHODS)}, not {value!r}")
    return method


def _fields(value: Any, what: str) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, Mapping):
        raise ConnectorError(f"{what} must be an object of names to values")
    pairs: list[tuple[str, str]] = []
    for name, item in value.items():
        for one in item if isinstance(item, list) else [item]:
            pairs.append((str(name), _scalar_text(one, f"{what}.{name}")))
    return pairs


def _scalar_text(value: Any, what: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise ConnectorError(f"{what} must be text, a number, a boolean or a list of those, not {type(value).__name__}")


def _json_bytes(value: Any) -> bytes:
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise ConnectorError(f"json cannot be sent as JSON: {exc}") from None


register(HttpConnector())
