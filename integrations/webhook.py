"""Signed webhooks following the Standard Webhooks specification: the ``webhook`` connection type (a ``whsec_``
signing secret and default headers) and the ``webhook.send`` action that signs and POSTs one JSON payload.

Per the specification the signature covers ``{webhook-id}.{webhook-timestamp}.{body}`` over the exact bytes
sent; ``webhook-id`` is the step's delivery id, identical on every retry so receivers can drop duplicates,
while ``webhook-timestamp`` is the time of each attempt. The specification reserves the ``webhook-`` header
prefix for exactly those three headers and carries the event type in the payload, so an ``event_type`` wraps
the payload as ``{"type": event_type, "data": payload}`` (its recommended structure; the attempt time is
already signed in ``webhook-timestamp``); without one the payload is sent exactly as given. It also treats a
3xx answer as a failure rather than something to follow, so redirects are not followed.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import Webhook

from integrations import http_client
from integrations.base import Action, CallContext, ConnectionField, ConnectionType, Connector, ConnectorError
from integrations.http import header_dict, parse_body
from integrations.outbound import check_url
from integrations.registry import register, register_connection_type

SECRET_PREFIX = "whsec_"
MIN_SECRET_BYTES, MAX_SECRET_BYTES = 24, 64
# The specification's recommended event type form: full-stop separated identifiers such as invoice.paid.
EVENT_TYPE = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")
# Headers the signature or the body depend on; letting a step set them would break every delivery.
_RESERVED_EXACT = frozenset({"content-type", "content-length"})
_KEPT_RESPONSE_HEADERS = ("content-type", "x-request-id", "request-id")


def secret_problem(value: Any) -> str | None:
    """What is wrong with a signing secret, never quoting it; None when it is usable."""
    if not isinstance(value, str) or not value.startswith(SECRET_PREFIX):
        return f"must start with {SECRET_PREFIX} followed by base64, as Standard Webhooks secrets do"
    try:
        key = _secret_bytes(value)
    except (binascii.Error, ValueError):
        return f"the part after {SECRET_PREFIX} is not valid base64"
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        return (f"must decode to {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes of key "
                f"(this one has {len(key)})")
    return None


def _secret_bytes(value: str) -> bytes:
    encoded = value[len(SECRET_PREFIX):]
    # Secrets are often shown without base64 padding; the library accepts them that way too.
    return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)


def _reserved(name: str) -> bool:
    return name.lower().startswith("webhook-") or name.lower() in _RESERVED_EXACT


def _checked_headers(value: Any, what: str) -> dict[str, str]:
    headers = header_dict(value, what)
    reserved = next((name for name in headers if _reserved(name)), None)
    if reserved is not None:
        raise ConnectorError(f"{what}: {reserved} is set by the webhook signature and cannot be overridden")
    return headers


def validate_connection(fields: Mapping[str, Any]) -> dict[str, str]:
    problems: dict[str, str] = {}
    problem = secret_problem(fields.get("signing_secret"))
    if problem is not None:
        problems["signing_secret"] = problem
    try:
        _checked_headers(fields.get("headers"), "headers")
    except ConnectorError as exc:
        problems["headers"] = exc.message
    return problems


def check_connection(fields: Mapping[str, Any], timeout: float) -> str:
    problem = secret_problem(fields.get("signing_secret"))
    if problem is not None:
        raise ConnectorError(f"signing_secret {problem}")
    size = len(_secret_bytes(fields["signing_secret"]))
    return (f"the signing secret is a valid {size}-byte Standard Webhooks key; nothing was sent, because a webhook "
            "connection has no URL of its own (each step names one)")


WEBHOOK_CONNECTION = register_connection_type(ConnectionType(
    key="webhook",
    title="Signed webhook",
    description="A Standard Webhooks signing secret (shared with the receiver) and headers sent with every "
                "delivery.",
    fields=(
        ConnectionField("signing_secret", "Signing secret", {"type": "string", "minLength": 1}, secret=True,
                        required=True, description="whsec_ followed by 24 to 64 bytes of base64; the receiver "
                                                   "verifies webhook-signature with it."),
        ConnectionField("headers", "Default headers", {"type": "object", "additionalProperties": {"type": "string"}},
                        description="Headers sent with every delivery, such as an API key; a step may "
                                    "override them. webhook-* and Content-Type are reserved."),
    ),
    check=check_connection,
    validate=validate_connection,
))

INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "url": {"title": "URL", "description": "The receiver's http:// or https:// address.", "type": "string",
                "minLength": 1},
        "payload": {"title": "Payload", "description": "Any JSON value, sent as the request body."},
        "event_type": {"title": "Event type",
                       "description": "Such as invoice.paid; when given the body is {\"type\": event_type, "
                                      "\"data\": payload}, the Standard Webhooks payload structure.",
                       "type": "string", "pattern": EVENT_TYPE.pattern},
        "headers": {"title": "Headers", "description": "Extra headers, over the connection's defaults; "
                                                       "webhook-* and Content-Type cannot be set.",
                    "type": "object", "additionalProperties": {"type": "string"}},
    },
    "required": ["url", "payload"],
    "additionalProperties": False,
}

OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "status": {"type": "integer", "description": "The receiver's HTTP status."},
        "headers": {"type": "object", "description": "Selected response headers (content-type, request ids).",
                    "additionalProperties": {"type": "string"}},
        "body": {"description": "The receiver's answer: parsed when JSON, else text."},
        "webhook_id": {"type": "string", "description": "The webhook-id sent; the same on every retry."},
    },
    "required": ["status", "headers", "body", "webhook_id"],
}


class WebhookConnector(Connector):
    """``send`` is idempotent: a repeat carries the same webhook-id, which receivers use to drop duplicates."""

    key = "webhook"
    title = "Webhook"
    connection_type = "webhook"
    actions = (
        Action("send", "Send a signed webhook", INPUT_SCHEMA, OUTPUT_SCHEMA, idempotent=True,
               description="POSTs a JSON payload signed per Standard Webhooks. Any answer other than 2xx fails "
                           "the step; 408, 429 and 5xx are retried with the same webhook-id."),
    )

    def run(
        self, action: str, inputs: dict[str, Any], connection: Mapping[str, Any] | None, context: CallContext
    ) -> dict[str, Any]:
        if action != "send":
            return super().run(action, inputs, connection, context)
        if connection is None:
            raise ConnectorError("webhook.send needs a webhook connection holding the signing secret")
        problem = secret_problem(connection.get("signing_secret"))
        if problem is not None:
            raise ConnectorError(f"the connection's signing_secret {problem}")
        url = check_url(inputs.get("url"))
        if inputs.get("payload") is None:
            raise ConnectorError("payload is required: the JSON value to deliver")
        body_text = _body_text(inputs["payload"], inputs.get("event_type"))
        defaults = _checked_headers(connection.get("headers"), "connection headers")
        extra = _checked_headers(inputs.get("headers"), "headers")
        overridden = {name.lower() for name in extra}
        headers = {name: value for name, value in defaults.items() if name.lower() not in overridden} | extra

        webhook_id = context.delivery_id
        timestamp = int(time.time())
        signature = Webhook(connection["signing_secret"]).sign(
            webhook_id, datetime.fromtimestamp(timestamp, UTC), body_text)
        headers |= {"Content-Type": "application/json", "webhook-id": webhook_id,
                    "webhook-timestamp": str(timestamp), "webhook-signature": signature}
        result = http_client.send("POST", url, timeout=context.timeout, max_bytes=context.max_response_bytes,
                                  data=body_text.encode(), headers=headers, allow_redirects=False)
        error = http_client.status_error(result, "POST", url)
        if error is not None:
            raise error
        if result.status >= 300:
            location = next((v for k, v in result.headers.items() if k.lower() == "location"), "")
            raise ConnectorError(f"POST {url} answered {result.status} {result.reason}; webhooks do not follow "
                                 f"redirects" + (f": change the URL to {location}" if location else ""))
        parsed, text = parse_body(result)
        kept = {k.lower(): v for k, v in result.headers.items() if k.lower() in _KEPT_RESPONSE_HEADERS}
        return {"status": result.status, "headers": kept, "body": text if parsed is None else parsed,
                "webhook_id": webhook_id}


def _body_text(payload: Any, event_type: Any) -> str:
    if event_type is not None:
        if not isinstance(event_type, str) or not EVENT_TYPE.match(event_type):
            raise ConnectorError("event_type must be dot-separated names of letters, digits and _, like invoice.paid")
        payload = {"type": event_type, "data": payload}
    try:
        # Serialized once: these exact characters are both signed and sent.
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConnectorError(f"payload cannot be sent as JSON: {exc}") from None


register(WebhookConnector())
