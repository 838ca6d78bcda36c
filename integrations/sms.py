"""SMS through Twilio: the ``twilio`` connection and the ``sms.send`` action, sent with the official ``twilio``
SDK. Owns checking numbers before anything is sent and turning Twilio's answers into ``ConnectorError``s."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import requests
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from integrations.base import Action, CallContext, ConnectionField, ConnectionType, Connector, ConnectorError
from integrations.http_client import RETRYABLE_STATUSES, retry_after_seconds, transport_error
from integrations.outbound import check_url
from integrations.registry import register, register_connection_type

DEFAULT_BASE_URL = "https://api.twilio.com"
E164 = re.compile(r"^\+[1-9]\d{1,14}$")
ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")

SEND = Action(
    "send",
    "Send an SMS",
    {
        "type": "object",
        "properties": {
            "to": {"type": "string", "pattern": E164.pattern, "title": "To",
                   "description": "The recipient's number in international E.164 form, e.g. +14155550123."},
            "body": {"type": "string", "minLength": 1, "maxLength": 1600, "title": "Message",
                     "description": "The text to send, up to 1600 characters (long texts go out as several SMS)."},
            "media_url": {"type": "string", "format": "uri", "title": "Picture URL",
                          "description": "A public http(s) URL of an image to send as MMS (US and Canada)."},
        },
        "required": ["to", "body"],
        "additionalProperties": False,
    },
    {
        "type": "object",
        "properties": {
            "sid": {"type": "string", "description": "Twilio's ID of the message (SM...)"},
            "status": {"type": "string", "description": "delivery status when accepted, usually queued"},
            "to": {"type": "string", "description": "the number the message goes to"},
            "from": {"type": ["string", "null"], "description": "the sender number, if Twilio chose it already"},
        },
    },
    description="Sends a text message from the connection's number or messaging service.",
)


class Sms(Connector):
    key = "sms"
    title = "SMS (Twilio)"
    connection_type = "twilio"
    actions = (SEND,)

    def run(
        self, action: str, inputs: dict[str, Any], connection: Mapping[str, Any] | None, context: CallContext
    ) -> dict[str, Any]:
        if action != "send":
            raise ConnectorError(f"sms cannot run {action!r}")
        inputs = _checked_inputs(inputs)
        connection = connection or {}
        client, last = _client(connection, context.timeout)
        if connection.get("messaging_service_sid"):
            sender = {"messaging_service_sid": connection["messaging_service_sid"]}
        elif connection.get("from_number"):
            sender = {"from_": connection["from_number"]}
        else:
            raise ConnectorError("this Twilio connection has neither a sender number nor a messaging service SID")
        media = {"media_url": [inputs["media_url"]]} if "media_url" in inputs else {}
        try:
            message = client.messages.create(to=inputs["to"], body=inputs["body"], **sender, **media)
        except (TwilioRestException, TwilioServiceException) as exc:
            raise _twilio_error(exc, last) from None
        except requests.RequestException as exc:
            url = f"{client.api.base_url}/2010-04-01/Accounts/{connection['account_sid']}/Messages.json"
            raise transport_error(exc, "POST", url) from exc
        return {"sid": message.sid, "status": message.status, "to": message.to, "from": message.from_}


def _checked_inputs(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """``inputs`` without unset (None) optional values, or a ``ConnectorError`` naming the first bad one."""
    present = {k: v for k, v in inputs.items() if v is not None}
    # The common mistakes get their own words; the schema catches the rest.
    to = present.get("to")
    if isinstance(to, str) and not E164.match(to):
        raise ConnectorError(f"to: {to[:40]!r} is not a phone number in international E.164 form, like "
                             "+14155550123 (a plus, the country code, then the number without spaces)")
    if "media_url" in present:
        present["media_url"] = check_url(present["media_url"], "media_url")
    return SEND.checked_inputs(present)


def _client(fields: Mapping[str, Any], timeout: float) -> tuple[Client, dict[str, requests.Response]]:
    """A Twilio client for ``fields`` and where it leaves the last HTTP response (for its Retry-After)."""
    if not fields.get("account_sid") or not fields.get("auth_token"):
        raise ConnectorError("this Twilio connection needs an account SID and an auth token")
    last: dict[str, requests.Response] = {}

    def remember(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        last["response"] = response

    http = TwilioHttpClient(timeout=timeout, request_hooks={"response": [remember]})
    # Ignore proxy variables: a proxy would resolve Twilio's host itself, past the outbound guard.
    http.session.trust_env = False
    client = Client(fields["account_sid"], fields["auth_token"], http_client=http)
    client.api.base_url = check_url(fields.get("base_url") or DEFAULT_BASE_URL, "base_url").rstrip("/")
    return client, last


def _twilio_error(exc: TwilioRestException | TwilioServiceException,
                  last: Mapping[str, requests.Response]) -> ConnectorError:
    status = exc.status
    text = exc.msg if isinstance(exc, TwilioRestException) else (exc.detail or exc.title)
    # The SDK prefixes what it was doing; Twilio's own words follow the first colon.
    said = (text.split(": ", 1)[-1] if text else "") or f"HTTP {status}"
    code = f" (Twilio error {exc.code}: https://www.twilio.com/docs/errors/{exc.code})" if exc.code != status else ""
    if status in (401, 403):
        return ConnectorError(f"Twilio rejected the credentials: {said}{code}; check the account SID and auth token")
    if status == 404:
        return ConnectorError(f"Twilio does not know this account: {said}{code}; check the account SID")
    if status in RETRYABLE_STATUSES:
        response = last.get("response")
        retry_after = retry_after_seconds(response.headers.get("Retry-After")) if response is not None else None
        return ConnectorError(f"Twilio answered {status}: {said}; try again later", retryable=True,
                              retry_after=retry_after)
    return ConnectorError(f"Twilio refused the message: {said}{code}")


def _validate(fields: Mapping[str, Any]) -> dict[str, str]:
    problems: dict[str, str] = {}
    sid = fields.get("account_sid")
    if sid and not (isinstance(sid, str) and ACCOUNT_SID.match(sid)):
        problems["account_sid"] = "an account SID is AC followed by 32 hexadecimal characters"
    number, service = fields.get("from_number"), fields.get("messaging_service_sid")
    if bool(number) == bool(service):
        problems["from_number"] = "give either a sender number or a messaging service SID, not both"
    elif number and not (isinstance(number, str) and E164.match(number)):
        problems["from_number"] = "must be in international E.164 form, like +14155550123"
    elif service and not (isinstance(service, str) and SERVICE_SID.match(service)):
        problems["messaging_service_sid"] = "a messaging service SID is MG followed by 32 hexadecimal characters"
    if fields.get("base_url"):
        try:
            check_url(fields["base_url"], "base_url")
        except ConnectorError as exc:
            problems["base_url"] = exc.message
    return problems


def _check(fields: Mapping[str, Any], timeout: float) -> str:
    client, last = _client(fields, timeout)
    try:
        account = client.api.v2010.accounts(fields["account_sid"]).fetch()
    except (TwilioRestException, TwilioServiceException) as exc:
        raise _twilio_error(exc, last) from None
    except requests.RequestException as exc:
        url = f"{client.api.base_url}/2010-04-01/Accounts/{fields['account_sid']}.json"
        raise transport_error(exc, "GET", url) from exc
    return f"signed in to Twilio account {account.friendly_name!r} (status {account.status})"


register_connection_type(ConnectionType(
    "twilio",
    "Twilio",
    (
        ConnectionField("account_sid", "Account SID", {"type": "string", "pattern": ACCOUNT_SID.pattern},
                        required=True, description="AC... from the Twilio console's Account Info."),
        ConnectionField("auth_token", "Auth token", secret=True, required=True,
                        description="The account's auth token, next to the account SID in the console."),
        ConnectionField("from_number", "Sender number", {"type": "string", "pattern": E164.pattern},
                        description="A Twilio number of this account in E.164 form, e.g. +14155550123."),
        ConnectionField("messaging_service_sid", "Messaging service SID",
                        {"type": "string", "pattern": SERVICE_SID.pattern},
                        description="MG...; instead of a sender number, let a messaging service pick the sender."),
        ConnectionField("base_url", "API base URL", {"type": "string", "minLength": 1},
                        description=f"Only for a Twilio-compatible gateway; default {DEFAULT_BASE_URL}"),
    ),
    _check,
    _validate,
    "A Twilio account's SID and auth token, and who messages come from.",
))
register(Sms())
