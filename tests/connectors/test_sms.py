"""sms.send through the real twilio SDK against a local stand-in answering like Twilio's REST API."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from integrations import outbound
from integrations.base import CallContext, ConnectorError
from integrations.outbound import OutboundPolicy
from integrations.registry import find_action, find_connection_type
from tests.connectors.conftest import LOCAL, Call
from tests.support.recording_server import Recorded, RecordingServer, Reply

SID = "AC" + "0123456789abcdef" * 2
TOKEN = "twilio-auth-token-secret"
SERVICE = "MG" + "fedcba9876543210" * 2
MESSAGES = f"/2010-04-01/Accounts/{SID}/Messages.json"


def twilio(server: RecordingServer, **extra: str) -> dict[str, str]:
    return {"account_sid": SID, "auth_token": TOKEN, "base_url": server.url, "from_number": "+15005550006", **extra}


def created(request: Recorded) -> Reply:
    """What Twilio answers to a new message: the message resource, queued."""
    form = request.form()
    return Reply(201, {"sid": "SM" + "1" * 32, "account_sid": SID, "status": "queued", "to": form["To"][0],
                       "from": form.get("From", [None])[0], "body": form["Body"][0]})


def twilio_error(status: int, code: int, message: str) -> dict:
    return {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status}


def failure(call: Call, inputs: dict, fields: dict, **kwargs) -> ConnectorError:
    with pytest.raises(ConnectorError) as caught:
        call("sms.send", inputs, fields, **kwargs)
    return caught.value


@pytest.fixture
def twilio_server() -> Iterator[RecordingServer]:
    with RecordingServer(default=created) as recording:
        yield recording


def test_send_posts_to_from_and_body_with_the_account_credentials(call: Call, twilio_server: RecordingServer) -> None:
    output = call("sms.send", {"to": "+14155550123", "body": "Your code is 1234"}, twilio(twilio_server))

    [request] = twilio_server.requests
    assert (request.method, request.path) == ("POST", MESSAGES)
    assert request.header("Authorization") == "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    assert request.form() == {"To": ["+14155550123"], "From": ["+15005550006"], "Body": ["Your code is 1234"]}
    assert output == {"sid": "SM" + "1" * 32, "status": "queued", "to": "+14155550123", "from": "+15005550006"}


def test_media_url_is_sent_for_an_mms(call: Call, twilio_server: RecordingServer) -> None:
    call("sms.send", {"to": "+14155550123", "body": "Look", "media_url": "https://example.com/cat.png"},
         twilio(twilio_server))

    assert twilio_server.requests[0].form()["MediaUrl"] == ["https://example.com/cat.png"]


def test_a_messaging_service_is_used_instead_of_a_sender_number(call: Call, twilio_server: RecordingServer) -> None:
    fields = {"account_sid": SID, "auth_token": TOKEN, "base_url": twilio_server.url, "messaging_service_sid": SERVICE}

    call("sms.send", {"to": "+14155550123", "body": "hi"}, fields)

    form = twilio_server.requests[0].form()
    assert form["MessagingServiceSid"] == [SERVICE]
    assert "From" not in form


def test_a_number_not_in_e164_form_is_rejected_before_anything_is_sent(call: Call,
                                                                       twilio_server: RecordingServer) -> None:
    error = failure(call, {"to": "0415 555 0123", "body": "hi"}, twilio(twilio_server))

    assert error.message.startswith("to: '0415 555 0123' is not a phone number in international E.164 form")
    assert not error.retryable
    assert twilio_server.requests == []


def test_a_body_over_1600_characters_is_rejected_before_anything_is_sent(call: Call,
                                                                         twilio_server: RecordingServer) -> None:
    error = failure(call, {"to": "+14155550123", "body": "x" * 1601}, twilio(twilio_server))

    assert error.message.startswith("body: ")
    assert twilio_server.requests == []


def test_rejected_credentials_are_final_and_the_token_is_never_quoted(call: Call, server: RecordingServer) -> None:
    server.reply(Reply(401, twilio_error(401, 20003, "Authenticate")))

    error = failure(call, {"to": "+14155550123", "body": "hi"}, twilio(server))

    assert error.message.startswith("Twilio rejected the credentials: Authenticate (Twilio error 20003")
    assert TOKEN not in error.message
    assert not error.retryable


def test_a_message_twilio_refuses_is_final_with_twilios_words_and_code(call: Call, server: RecordingServer) -> None:
    server.reply(Reply(400, twilio_error(400, 21211, "The 'To' number +15005550001 is not a valid phone number.")))

    error = failure(call, {"to": "+15005550001", "body": "hi"}, twilio(server))

    assert error.message == ("Twilio refused the message: The 'To' number +15005550001 is not a valid phone number. "
                             "(Twilio error 21211: https://www.twilio.com/docs/errors/21211)")
    assert not error.retryable


def test_service_unavailable_is_retryable(call: Call, server: RecordingServer) -> None:
    server.reply(Reply(503, "upstream unavailable"))

    error = failure(call, {"to": "+14155550123", "body": "hi"}, twilio(server))

    assert error.retryable
    assert not error.outcome_unknown


def test_rate_limit_is_retryable_after_the_time_twilio_asks(call: Call, server: RecordingServer) -> None:
    server.reply(Reply(429, twilio_error(429, 20429, "Too Many Requests"), {"Retry-After": "7"}))

    error = failure(call, {"to": "+14155550123", "body": "hi"}, twilio(server))

    assert (error.retryable, error.retry_after) == (True, 7)
    assert len(server.requests) == 1


def test_no_answer_in_time_means_the_sms_may_have_been_sent(server: RecordingServer) -> None:
    server.reply(Reply(201, {"sid": "SM1", "status": "queued"}, delay=2))
    connector, _ = find_action("sms.send")
    context = CallContext(execution_id=1, step_id="notify", attempt=1, timeout=0.3)

    # Run directly (guard on) rather than through call_action, whose own deadline would race the SDK's.
    with outbound.guard(LOCAL), pytest.raises(ConnectorError) as caught:
        connector.run("send", {"to": "+14155550123", "body": "hi"}, twilio(server), context)

    assert caught.value.outcome_unknown
    assert "may have been received" in caught.value.message


def test_outbound_policy_refuses_a_local_twilio(call: Call, server: RecordingServer) -> None:
    error = failure(call, {"to": "+14155550123", "body": "hi"}, twilio(server), policy=OutboundPolicy())

    assert "refused to connect to 127.0.0.1" in error.message
    assert server.requests == []


def test_check_fetches_the_account(server: RecordingServer) -> None:
    server.reply(Reply(200, {"sid": SID, "friendly_name": "Acme alerts", "status": "active"}))

    verified = find_connection_type("twilio").check(twilio(server), 5)

    assert verified == "signed in to Twilio account 'Acme alerts' (status active)"
    [request] = server.requests
    assert (request.method, request.path) == ("GET", f"/2010-04-01/Accounts/{SID}.json")


def test_check_reports_rejected_credentials(server: RecordingServer) -> None:
    server.reply(Reply(401, twilio_error(401, 20003, "Authenticate")))

    with pytest.raises(ConnectorError, match="Twilio rejected the credentials"):
        find_connection_type("twilio").check(twilio(server), 5)


@pytest.mark.parametrize(("fields", "problems"), [
    ({"account_sid": SID, "auth_token": TOKEN, "from_number": "+15005550006"}, {}),
    ({"account_sid": SID, "auth_token": TOKEN, "messaging_service_sid": SERVICE}, {}),
    ({"account_sid": "SK123", "auth_token": TOKEN, "from_number": "+15005550006"},
     {"account_sid": "an account SID is AC followed by 32 hexadecimal characters"}),
    ({"account_sid": SID, "auth_token": TOKEN},
     {"from_number": "give either a sender number or a messaging service SID, not both"}),
    ({"account_sid": SID, "auth_token": TOKEN, "from_number": "+15005550006", "messaging_service_sid": SERVICE},
     {"from_number": "give either a sender number or a messaging service SID, not both"}),
])
def test_validate_needs_exactly_one_sender(fields: dict, problems: dict) -> None:
    assert find_connection_type("twilio").validate(fields) == problems
