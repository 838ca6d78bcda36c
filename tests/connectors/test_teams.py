"""teams.post_message through the real pymsteams against a local stand-in for a Teams incoming webhook."""

from __future__ import annotations

import pytest

from integrations.base import ConnectorError
from integrations.outbound import OutboundPolicy
from integrations.registry import find_connection_type
from tests.connectors.conftest import Call
from tests.support.recording_server import RecordingServer, Reply

HOOK_PATH = "/webhookb2/a1b2c3@tenant/IncomingWebhook/secretpart/owner"


def teams(server: RecordingServer) -> dict[str, str]:
    return {"webhook_url": server.url + HOOK_PATH}


def failure(call: Call, inputs: dict, fields: dict, **kwargs) -> ConnectorError:
    with pytest.raises(ConnectorError) as caught:
        call("teams.post_message", inputs, fields, **kwargs)
    return caught.value


def test_post_message_sends_a_card_with_title_text_colour_facts_and_buttons(call: Call,
                                                                            server: RecordingServer) -> None:
    server.reply(Reply(200, "1"))

    output = call("teams.post_message", {
        "title": "Build 42", "text": "**passed** on main", "color": "#0078D7",
        "facts": {"Branch": "main", "Duration (s)": 93},
        "buttons": [{"text": "Open build", "url": "https://ci.example.com/42"}],
    }, teams(server))

    [request] = server.requests
    assert (request.method, request.path) == ("POST", HOOK_PATH)
    assert request.json() == {
        "title": "Build 42",
        "text": "**passed** on main",
        "themeColor": "0078D7",
        "sections": [{"facts": [{"name": "Branch", "value": "main"}, {"name": "Duration (s)", "value": "93"}]}],
        "potentialAction": [{"@context": "http://schema.org", "@type": "ViewAction", "name": "Open build",
                             "target": ["https://ci.example.com/42"]}],
    }
    assert output == {"status": 200}


def test_facts_given_as_a_list_keep_their_order(call: Call, server: RecordingServer) -> None:
    call("teams.post_message", {"text": "t", "facts": [{"name": "b", "value": "2"}, {"name": "a", "value": True}]},
         teams(server))

    assert server.requests[0].json()["sections"] == [{"facts": [{"name": "b", "value": "2"},
                                                                {"name": "a", "value": "true"}]}]


def test_a_plain_message_sends_only_the_text(call: Call, server: RecordingServer) -> None:
    call("teams.post_message", {"text": "Deployed", "title": None}, teams(server))

    assert server.requests[0].json() == {"text": "Deployed"}


def test_a_refused_card_is_final_and_the_webhook_url_is_never_quoted(call: Call, server: RecordingServer) -> None:
    server.reply(Reply(400, "Bad payload received by generic incoming webhook."))

    error = failure(call, {"text": "hi"}, teams(server))

    assert error.message == "Teams answered 400: Bad payload received by generic incoming webhook."
    assert not error.retryable


def test_a_removed_webhook_says_to_create_a_new_one(call: Call, server: RecordingServer) -> None:
    server.reply(Reply(404, ""))

    error = failure(call, {"text": "hi"}, teams(server))

    assert "create a new incoming webhook" in error.message
    assert not error.retryable


def test_rate_limit_is_retryable_after_the_time_teams_asks(call: Call, server: RecordingServer) -> None:
    server.reply(Reply(429, "Too many requests", {"Retry-After": "20"}))

    error = failure(call, {"text": "hi"}, teams(server))

    assert (error.retryable, error.retry_after) == (True, 20)


def test_throttling_reported_inside_a_200_answer_is_retryable(call: Call, server: RecordingServer) -> None:
    server.reply(Reply(200, "Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0"))

    error = failure(call, {"text": "hi"}, teams(server))

    assert error.retryable
    assert error.message.startswith("Teams answered 429")


def test_server_error_is_retryable(call: Call, server: RecordingServer) -> None:
    server.reply(Reply(502, "Bad Gateway"))

    assert failure(call, {"text": "hi"}, teams(server)).retryable


def test_unreachable_webhook_is_retryable_and_not_quoted(call: Call, closed_port: int) -> None:
    error = failure(call, {"text": "hi"}, {"webhook_url": f"http://127.0.0.1:{closed_port}{HOOK_PATH}"})

    assert error.retryable
    assert error.message.startswith("POST to the Teams webhook: could not connect")
    assert "secretpart" not in error.message


def test_outbound_policy_refuses_a_local_webhook(call: Call, server: RecordingServer) -> None:
    error = failure(call, {"text": "hi"}, teams(server), policy=OutboundPolicy())

    assert "refused to connect to 127.0.0.1" in error.message
    assert server.requests == []


def test_a_colour_that_is_not_hex_is_rejected_before_posting(call: Call, server: RecordingServer) -> None:
    error = failure(call, {"text": "hi", "color": "blue"}, teams(server))

    assert error.message.startswith("color: 'blue' does not match")
    assert server.requests == []


def test_a_button_without_a_web_link_is_rejected_before_posting(call: Call, server: RecordingServer) -> None:
    error = failure(call, {"text": "hi", "buttons": [{"text": "Run", "url": "javascript:alert(1)"}]}, teams(server))

    assert error.message == "buttons[0].url must start with https:// or http://, not javascript"
    assert server.requests == []


def test_check_only_asks_whether_the_host_answers(server: RecordingServer) -> None:
    server.reply(Reply(405))

    verified = find_connection_type("teams").check(teams(server), 5)

    assert verified == ("127.0.0.1 is reachable (answered HTTP 405); nothing was posted, so the webhook itself is "
                        "not verified")
    assert [r.method for r in server.requests] == ["HEAD"]


@pytest.mark.parametrize(("url", "problems"), [
    ("https://acme.webhook.office.com/webhookb2/x", {}),
    ("http://acme.webhook.office.com/webhookb2/x",
     {"webhook_url": "must be the https:// URL Teams showed when the incoming webhook was created"}),
])
def test_validate_wants_an_https_webhook_url(url: str, problems: dict) -> None:
    assert find_connection_type("teams").validate({"webhook_url": url}) == problems
