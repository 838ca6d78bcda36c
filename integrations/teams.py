"""Microsoft Teams: the ``teams`` connection (an incoming-webhook URL) and the ``teams.post_message`` action,
a MessageCard built and sent with ``pymsteams``. Owns turning the webhook's answers into ``ConnectorError``s
without ever quoting the webhook URL, which is the credential."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import pymsteams
import requests

from integrations.base import Action, CallContext, ConnectionField, ConnectionType, Connector, ConnectorError
from integrations.http_client import RETRYABLE_STATUSES, retry_after_seconds, session, transport_error
from integrations.outbound import check_url
from integrations.registry import register, register_connection_type

# Teams' connector endpoints have answered throttling with HTTP 200 and this text instead of a real 429.
_ERROR_IN_BODY = re.compile(r"returned HTTP error (\d{3})")
_WHERE = "the Teams webhook"

_VALUE = {"type": ["string", "number", "boolean"]}
_FACT = {"type": "object", "properties": {"name": {"type": "string", "minLength": 1}, "value": _VALUE},
         "required": ["name", "value"], "additionalProperties": False}
POST_MESSAGE = Action(
    "post_message",
    "Post a card",
    {
        "type": "object",
        "properties": {
            "title": {"type": "string", "minLength": 1, "title": "Title", "description": "The card's heading."},
            "text": {"type": "string", "minLength": 1, "title": "Text",
                     "description": "The card's body; Markdown is allowed."},
            "color": {"type": "string", "pattern": "^#?[0-9A-Fa-f]{6}$", "title": "Colour",
                      "description": "The accent colour as hex, e.g. #0078D7."},
            "facts": {
                "title": "Facts",
                "description": "Name and value pairs shown as a table: {\"Build\": 42} or "
                               "[{\"name\": \"Build\", \"value\": 42}].",
                "anyOf": [{"type": "object", "additionalProperties": _VALUE},
                          {"type": "array", "items": _FACT}],
            },
            "buttons": {
                "type": "array",
                "title": "Buttons",
                "description": "Link buttons under the card: [{\"text\": \"Open build\", \"url\": \"https://...\"}].",
                "items": {"type": "object", "additionalProperties": False, "required": ["text", "url"],
                          "properties": {"text": {"type": "string", "minLength": 1}, "url": {"type": "string"}}},
            },
        },
        "required": ["text"],
        "additionalProperties": False,
    },
    {"type": "object", "properties": {"status": {"type": "integer", "description": "HTTP status Teams answered"}}},
    description="Posts a card to the channel the connection's incoming webhook belongs to.",
)


class Teams(Connector):
    key = "teams"
    title = "Microsoft Teams"
    connection_type = "teams"
    actions = (POST_MESSAGE,)

    def run(
        self, action: str, inputs: dict[str, Any], connection: Mapping[str, Any] | None, context: CallContext
    ) -> dict[str, Any]:
        if action != "post_message":
            raise ConnectorError(f"teams cannot run {action!r}")
        inputs = _checked_inputs(inputs)
        card = pymsteams.connectorcard(_webhook_url(connection or {}), http_timeout=context.timeout)
        card.text(inputs["text"])
        if "title" in inputs:
            card.title(inputs["title"])
        if "color" in inputs:
            card.color(inputs["color"].lstrip("#"))
        facts = inputs.get("facts") or {}
        if facts:
            section = pymsteams.cardsection()
            pairs = facts.items() if isinstance(facts, Mapping) else ((f["name"], f["value"]) for f in facts)
            for name, value in pairs:
                section.addFact(name, value if isinstance(value, str) else json.dumps(value))
            card.addSection(section)
        for button in inputs.get("buttons", ()):
            card.addLinkButton(button["text"], button["url"])
        try:
            card.send()
        except pymsteams.TeamsWebhookException:
            response = card.last_http_response
            raise _status_error(response.status_code, response.text, response.headers) from None
        except requests.RequestException as exc:
            raise transport_error(exc, "POST to", _WHERE) from exc
        response = card.last_http_response
        found = _ERROR_IN_BODY.search(response.text)
        if found:
            raise _status_error(int(found.group(1)), response.text, response.headers)
        return {"status": response.status_code}


def _checked_inputs(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """``inputs`` without unset (None) optional values, or a ``ConnectorError`` naming the first bad one."""
    present = POST_MESSAGE.checked_inputs(inputs)
    for index, button in enumerate(present.get("buttons", ())):
        check_url(button["url"], f"buttons[{index}].url")
    return present


def _webhook_url(fields: Mapping[str, Any]) -> str:
    # check_url's own message may repeat the URL, and the URL is the secret.
    try:
        return check_url(fields.get("webhook_url"))
    except ConnectorError:
        raise ConnectorError("the connection's webhook URL is missing or not a valid https:// URL") from None


def _status_error(status: int, body: str, headers: Mapping[str, str]) -> ConnectorError:
    snippet = " ".join(body.split())[:200]
    said = f"Teams answered {status}" + (f": {snippet}" if snippet else "")
    if status in RETRYABLE_STATUSES:
        return ConnectorError(f"{said}; try again later", retryable=True,
                              retry_after=retry_after_seconds(headers.get("Retry-After")))
    if status in (401, 403, 404, 410):
        return ConnectorError(f"{said}; the webhook was removed or disabled: create a new incoming webhook "
                              "and update the connection")
    return ConnectorError(said)


def _validate(fields: Mapping[str, Any]) -> dict[str, str]:
    url = fields.get("webhook_url")
    if not (isinstance(url, str) and url.startswith("https://") and urlsplit(url).hostname):
        return {"webhook_url": "must be the https:// URL Teams showed when the incoming webhook was created"}
    return {}


def _check(fields: Mapping[str, Any], timeout: float) -> str:
    url = _webhook_url(fields)
    host = urlsplit(url).hostname
    # Posting would put a card in the channel, so only show the host answers; the webhook is not verified.
    with session() as http:
        try:
            response = http.head(url, timeout=timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise transport_error(exc, "HEAD", f"the webhook host {host}") from exc
    return (f"{host} is reachable (answered HTTP {response.status_code}); nothing was posted, so the webhook "
            "itself is not verified")


register_connection_type(ConnectionType(
    "teams",
    "Microsoft Teams",
    (
        ConnectionField("webhook_url", "Incoming webhook URL", secret=True, required=True,
                        description="The https:// URL Teams shows when you add an incoming webhook to a channel."),
    ),
    _check,
    _validate,
    "A Teams channel's incoming webhook.",
))
register(Teams())
