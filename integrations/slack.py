"""Slack: the ``slack`` connection (a bot token and/or an incoming-webhook URL) and the ``slack.post_message``
and ``slack.webhook`` actions, sent with the official ``slack_sdk`` clients. Owns turning Slack's answers
and transport failures into ``ConnectorError``s a user can act on."""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Mapping
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from integrations.base import Action, CallContext, ConnectionField, ConnectionType, Connector, ConnectorError
from integrations.http_client import retry_after_seconds
from integrations.outbound import check_url
from integrations.registry import register, register_connection_type

DEFAULT_BASE_URL = "https://slack.com/api/"

_CREDENTIAL_ERRORS = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked",
                                "token_expired", "no_permission"})
# Slack reports these with HTTP 200 and ok=false, yet the same call may well succeed later.
_RETRYABLE_ERRORS = frozenset({"ratelimited", "internal_error", "service_unavailable", "request_timeout",
                               "fatal_error"})
_HINTS = {
    "channel_not_found": "check the channel name and that the bot is invited",
    "not_in_channel": "invite the bot to the channel (/invite @your-bot) first",
    "is_archived": "the channel is archived; unarchive it or pick another channel",
    "channel_is_archived": "the channel is archived; unarchive it or pick another channel",
    "missing_scope": "add the chat:write scope to the Slack app and reinstall it",
    "invalid_blocks": "the blocks are not valid Block Kit; try them in Slack's Block Kit Builder",
    "invalid_blocks_format": "blocks must be a list of Block Kit objects",
    "invalid_payload": "the text or blocks are not valid Block Kit; try them in Slack's Block Kit Builder",
    "msg_too_long": "the text is too long for one Slack message",
    "no_text": "give the message some text",
    "no_service": "the webhook was removed; create a new incoming webhook and update the connection",
    "invalid_token": "the webhook was revoked; create a new incoming webhook and update the connection",
    "no_active_hooks": "the webhook was disabled; create a new incoming webhook and update the connection",
    "action_prohibited": "a Slack admin restricted posting to this channel",
}

_TEXT = {"type": "string", "minLength": 1, "maxLength": 40000, "title": "Text",
         "description": "The message (Slack mrkdwn). With blocks it is the notification and fallback text."}
_BLOCKS = {"type": "array", "items": {"type": "object", "required": ["type"]}, "maxItems": 50, "title": "Blocks",
           "description": "Block Kit blocks for a richer layout, e.g. [{\"type\": \"section\", ...}]."}

POST_MESSAGE = Action(
    "post_message",
    "Post a message",
    {
        "type": "object",
        "properties": {
            "channel": {"type": "string", "minLength": 1, "title": "Channel",
                        "description": "A channel name (#alerts), channel ID (C0123ABCD) or user ID for a DM. "
                                       "The bot must be a member of the channel."},
            "text": _TEXT,
            "blocks": _BLOCKS,
            "thread_ts": {"type": "string", "pattern": r"^\d+\.\d+$", "title": "Reply in thread",
                          "description": "The ts of a message to reply to in its thread, e.g. 1712345678.000100."},
        },
        "required": ["channel", "text"],
        "additionalProperties": False,
    },
    {
        "type": "object",
        "properties": {
            "channel": {"type": "string", "description": "ID of the channel the message went to"},
            "ts": {"type": "string", "description": "the message's timestamp: its ID within the channel"},
            "message": {"type": "object", "description": "the message as Slack stored it"},
        },
    },
    description="Posts a message with the connection's bot token (chat.postMessage).",
)
WEBHOOK = Action(
    "webhook",
    "Post to an incoming webhook",
    {
        "type": "object",
        "properties": {"text": _TEXT, "blocks": _BLOCKS},
        "required": ["text"],
        "additionalProperties": False,
    },
    {
        "type": "object",
        "properties": {
            "status": {"type": "integer", "description": "HTTP status Slack answered"},
            "body": {"type": "string", "description": "Slack's answer, ok on success"},
        },
    },
    description="Posts to the channel the connection's incoming-webhook URL belongs to.",
)


class Slack(Connector):
    key = "slack"
    title = "Slack"
    connection_type = "slack"
    actions = (POST_MESSAGE, WEBHOOK)

    def run(
        self, action: str, inputs: dict[str, Any], connection: Mapping[str, Any] | None, context: CallContext
    ) -> dict[str, Any]:
        found = self.action(action)
        if found is None:
            raise ConnectorError(f"slack cannot run {action!r}")
        inputs = found.checked_inputs(inputs)
        connection = connection or {}
        if action == "post_message":
            return _post_message(inputs, connection, context.timeout)
        return _post_webhook(inputs, connection, context.timeout)


def _web_client(connection: Mapping[str, Any], timeout: float) -> WebClient:
    token = connection.get("bot_token")
    if not token:
        raise ConnectorError("this Slack connection has no bot token; add one, or use slack.webhook with a "
                             "webhook URL")
    base_url = check_url(connection.get("base_url") or DEFAULT_BASE_URL, "base_url")
    # No SDK retries: the engine decides, and a retried post after a dropped answer would post twice.
    return WebClient(token=token, base_url=base_url, timeout=timeout, retry_handlers=[])


def _post_message(inputs: dict[str, Any], connection: Mapping[str, Any], timeout: float) -> dict[str, Any]:
    client = _web_client(connection, timeout)
    try:
        response = client.chat_postMessage(channel=inputs["channel"], text=inputs["text"],
                                           blocks=inputs.get("blocks"), thread_ts=inputs.get("thread_ts"))
    except SlackApiError as exc:
        raise _api_error(exc.response.status_code, exc.response.get("error"), exc.response.headers,
                         needed=exc.response.get("needed")) from None
    except Exception as exc:  # noqa: BLE001 - urllib raises many kinds; _transport_error sorts them
        raise _transport_error(exc) from exc
    return {"channel": response.get("channel"), "ts": response.get("ts"), "message": response.get("message")}


def _post_webhook(inputs: dict[str, Any], connection: Mapping[str, Any], timeout: float) -> dict[str, Any]:
    if not connection.get("webhook_url"):
        raise ConnectorError("this Slack connection has no webhook URL; add one, or use slack.post_message with "
                             "a bot token")
    # The URL is the credential: check_url's own message would print it, so only say it is malformed.
    try:
        url = check_url(connection["webhook_url"])
    except ConnectorError:
        raise ConnectorError("the connection's webhook URL is not a valid https:// URL") from None
    client = WebhookClient(url, timeout=timeout, retry_handlers=[])
    try:
        response = client.send(text=inputs["text"], blocks=inputs.get("blocks"))
    except Exception as exc:  # noqa: BLE001 - urllib raises many kinds; _transport_error sorts them
        raise _transport_error(exc) from exc
    if response.status_code != 200:
        body = " ".join((response.body or "").split())[:200]
        raise _api_error(response.status_code, body, response.headers, webhook=True)
    return {"status": response.status_code, "body": response.body}


def _api_error(status: int, error: str | None, headers: Mapping[str, Any] | None, *, needed: str | None = None,
               webhook: bool = False) -> ConnectorError:
    # Slack's error codes are single words; anything else is a body that is not Slack's (an HTML error page).
    error = error if error and not any(ch.isspace() for ch in error) else ""
    said = f"Slack said {error}" + (f" (HTTP {status})" if webhook else "") if error else f"Slack answered {status}"
    retry_after = retry_after_seconds(_header(headers, "Retry-After"))
    if status == 429 or error == "ratelimited":
        return ConnectorError(f"{said}: rate limited, try again later", retryable=True, retry_after=retry_after)
    if status >= 500 or error in _RETRYABLE_ERRORS:
        # fatal_error means Slack may have done part of the work before failing.
        return ConnectorError(f"{said}: Slack had a problem, try again later", retryable=True,
                              retry_after=retry_after, outcome_unknown=error == "fatal_error")
    if error in _CREDENTIAL_ERRORS:
        return ConnectorError(f"{said}: Slack rejected the connection's credentials; check the bot token")
    hint = _HINTS.get(error)
    if error == "missing_scope" and needed:
        hint = f"add the {needed} scope to the Slack app and reinstall it"
    return ConnectorError(f"{said}: {hint}" if hint else said)


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            # WebClient keeps header values as lists, the webhook client as strings.
            return str(value[0] if isinstance(value, list) and value else value)
    return None


def _transport_error(exc: Exception) -> ConnectorError:
    """The error for a call that got no answer from Slack; never quotes the URL (a webhook URL is a secret)."""
    if isinstance(exc, URLError):
        # urllib raises URLError while connecting or sending, so Slack has not acted on the request.
        reason = exc.reason
        if isinstance(reason, ssl.SSLError):
            return ConnectorError(f"could not reach Slack: TLS failed: {reason}")
        if isinstance(reason, TimeoutError):
            return ConnectorError("could not reach Slack: no connection in time", retryable=True)
        return ConnectorError(f"could not reach Slack: {reason}", retryable=True)
    if isinstance(exc, TimeoutError | ConnectionError | http.client.HTTPException):
        return ConnectorError("Slack did not answer in time; the message may have been posted", retryable=True,
                              outcome_unknown=True)
    return ConnectorError(f"calling Slack failed: {type(exc).__name__}")


def _validate(fields: Mapping[str, Any]) -> dict[str, str]:
    problems: dict[str, str] = {}
    token, webhook_url = fields.get("bot_token"), fields.get("webhook_url")
    if not token and not webhook_url:
        problems["bot_token"] = "give a bot token, a webhook URL, or both"
    # Messages here never repeat a secret value: they are shown back to the user and logged.
    if token and not (isinstance(token, str) and token.startswith("xoxb-")):
        problems["bot_token"] = "a bot token starts with xoxb-"
    if webhook_url and not (isinstance(webhook_url, str) and webhook_url.startswith("https://")):
        problems["webhook_url"] = "must be an https:// URL like https://hooks.slack.com/services/..."
    if fields.get("base_url"):
        try:
            check_url(fields["base_url"], "base_url")
        except ConnectorError as exc:
            problems["base_url"] = exc.message
    return problems


def _check(fields: Mapping[str, Any], timeout: float) -> str:
    verified = []
    if fields.get("bot_token"):
        try:
            identity = _web_client(fields, timeout).auth_test()
        except SlackApiError as exc:
            raise _api_error(exc.response.status_code, exc.response.get("error"), exc.response.headers) from None
        except Exception as exc:  # noqa: BLE001 - urllib raises many kinds; _transport_error sorts them
            raise _transport_error(exc) from exc
        verified.append(f"bot token works: signed in as {identity.get('user')} in team {identity.get('team')}")
    if fields.get("webhook_url"):
        # Slack has no way to test an incoming webhook without posting to the channel.
        verified.append("webhook URL saved but not tested (testing it would post a message)")
    return "; ".join(verified)


register_connection_type(ConnectionType(
    "slack",
    "Slack",
    (
        ConnectionField("bot_token", "Bot token", secret=True,
                        description="The Bot User OAuth Token (xoxb-...) from the Slack app's OAuth & Permissions "
                                    "page; needs the chat:write scope. Used by slack.post_message."),
        ConnectionField("webhook_url", "Incoming webhook URL", secret=True,
                        description="https://hooks.slack.com/services/... from the app's Incoming Webhooks page. "
                                    "Used by slack.webhook."),
        ConnectionField("base_url", "API base URL", {"type": "string", "minLength": 1},
                        description=f"Only for a Slack-compatible gateway; default {DEFAULT_BASE_URL}"),
    ),
    _check,
    _validate,
    "A Slack app's bot token, an incoming-webhook URL, or both.",
))
register(Slack())
