"""slack.post_message and slack.webhook through the real slack_sdk against a local Slack stand-in."""

from __future__ import annotations

import pytest

from integrations import outbound
from integrations.base import CallContext, ConnectorError
from integrations.outbound import OutboundPolicy
from integrations.registry import find_action, find_connection_type
from tests.connectors.conftest import LOCAL, Call
from tests.support.recording_server import RecordingServer, Reply

TOKEN = "xoxb-1111-2222-secretvalue"
POSTED = {"ok": True, "channel": "C0123ABCD", "ts": "1712345678.000100",
          "message": {"type": "message", "text": "Build 42 passed", "ts": "1712345678.000100"}}
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Build 42* passed"}}]


def bot(server: RecordingServer) -> dict[str, str]:
    return {"bot_token": TOKEN, "base_url": f"{server.url}/api/"}


def hook(server: RecordingServer) -> dict[str, str]:
    return {"webhook_url": f"{server.url}/services/T000/B000/hooksecret"}


def failure(call: Call, uses: str, inputs: dict, fields: dict, **kwargs) -> ConnectorError:
    with pytest.raises(ConnectorError) as caught:
        call(uses, inputs, fields, **kwargs)
    return caught.value


def test_post_message_sends_channel_text_blocks_and_thread_with_the_bot_token(call: Call,
                                                                              server: RecordingServer) -> None:
    server.reply(Reply(200, POSTED))

    output = call("slack.post_message", {"channel": "#builds", "text": "Build 42 passed", "blocks": BLOCKS,
                                         "thread_ts": "1712340000.000200"}, bot(server))

    [request] = server.requests
    assert (request.method, request.path) == ("POST", "/api/chat.postMessage")
    assert request.header("Authorization") == f"Bearer {TOKEN}"
    assert request.json() == {"channel": "#builds", "text": "Build 42 passed", "blocks": BLOCKS,
                              "thread_ts": "1712340000.000200"}
    assert output == {"channel": "C0123ABCD", "ts": "1712345678.000100", "message": POSTED["message"]}


def test_post_message_leaves_out_optional_inputs_that_rendered_empty(call: Call, server: RecordingServer) -> None:
    server.reply(Reply(200, POSTED))

    call("slack.post_message", {"channel": "C0123ABCD", "text": "hi", "thread_ts": None}, bot(server))

    assert server.requests[0].json() == {"channel": "C0123ABCD", "text": "hi"}


def test_channel_not_found_is_final_and_says_what_to_check(call: Call, server: RecordingServer) -> None:
    server.reply(Reply(200, {"ok": False, "error": "channel_not_found"}))

    error = failure(call, "slack.post_message", {"channel": "#nope", "text": "hi"}, bot(server))

    assert error.message == "Slack said channel_not_found: check the channel name and that the bot is invited"
    assert not error.retryable


def test_rejected_token_is_final_and_never_quoted(call: Call, server: RecordingServer) -> None:
    server.reply(Reply(200, {"ok": False, "error": "invalid_auth"}))

    error = failure(call, "slack.post_message", {"channel": "#builds", "text": "hi"}, bot(server))

    assert "credentials" in error.message
    assert TOKEN not in error.message
    assert not error.retryable


def test_missing_scope_names_the_scope_to_add(call: Call, server: RecordingServer) -> None:
    server.reply(Reply(200, {"ok": False, "error": "missing_scope", "needed": "chat:write", "provided": "users:read"}))

    error = failure(call, "slack.post_message", {"channel": "#builds", "text": "hi"}, bot(server))

    assert error.message == "Slack said missing_scope: add the chat:write scope to the Slack app and reinstall it"


def test_rate_limit_is_retryable_after_the_time_slack_asks(call: Call, server: RecordingServer) -> None:
    server.reply(Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "30"}))

    error = failure(call, "slack.post_message", {"channel": "#builds", "text": "hi"}, bot(server))

    assert error.retryable
    assert error.retry_after == 30
    assert len(server.requests) == 1, "the SDK must not retry on its own"


def test_server_error_is_retryable(call: Call, server: RecordingServer) -> None:
    server.reply(Reply(503, "<html>Service Unavailable</html>"))

    error = failure(call, "slack.post_message", {"channel": "#builds", "text": "hi"}, bot(server))

    assert error.retryable
    assert not error.outcome_unknown


def test_no_answer_in_time_means_the_message_may_have_been_posted(server: RecordingServer) -> None:
    server.reply(Reply(200, POSTED, delay=2))
    connector, _ = find_action("slack.post_message")
    context = CallContext(execution_id=1, step_id="notify", attempt=1, timeout=0.3)

    # Run directly (guard on) rather than through call_action, whose own deadline would race the SDK's.
    with outbound.guard(LOCAL), pytest.raises(ConnectorError) as caught:
        connector.run("post_message", {"channel": "#builds", "text": "hi"}, bot(server), context)

    assert caught.value.outcome_unknown
    assert "may have been posted" in caught.value.message


def test_unreachable_slack_is_retryable(call: Call, closed_port: int) -> None:
    fields = {"bot_token": TOKEN, "base_url": f"http://127.0.0.1:{closed_port}/api/"}

    error = failure(call, "slack.post_message", {"channel": "#builds", "text": "hi"}, fields)

    assert error.retryable
    assert not error.outcome_unknown
    assert "could not reach Slack" in error.message


def test_outbound_policy_refuses_a_local_slack(call: Call, server: RecordingServer) -> None:
    error = failure(call, "slack.post_message", {"channel": "#builds", "text": "hi"}, bot(server),
                    policy=OutboundPolicy())

    assert "refused to connect to 127.0.0.1" in error.message
    assert server.requests == []


def test_blocks_that_rendered_to_a_non_list_are_rejected_before_calling_slack(call: Call,
                                                                               server: RecordingServer) -> None:
    error = failure(call, "slack.post_message", {"channel": "#builds", "text": "hi", "blocks": "oops"},
                    bot(server))

    assert error.message == "blocks: 'oops' is not of type 'array'"
    assert server.requests == []


def test_post_message_needs_a_bot_token(call: Call, server: RecordingServer) -> None:
    error = failure(call, "slack.post_message", {"channel": "#builds", "text": "hi"}, hook(server))

    assert "no bot token" in error.message
    assert server.requests == []


def test_webhook_posts_text_and_blocks_to_the_webhook_url(call: Call, server: RecordingServer) -> None:
    server.reply(Reply(200, "ok"))

    output = call("slack.webhook", {"text": "Build 42 passed", "blocks": BLOCKS}, hook(server))

    [request] = server.requests
    assert (request.method, request.path) == ("POST", "/services/T000/B000/hooksecret")
    assert request.json() == {"text": "Build 42 passed", "blocks": BLOCKS}
    assert output == {"status": 200, "body": "ok"}


def test_revoked_webhook_is_final_and_the_url_is_never_quoted(call: Call, server: RecordingServer) -> None:
    server.reply(Reply(404, "no_service"))

    error = failure(call, "slack.webhook", {"text": "hi"}, hook(server))

    assert error.message == ("Slack said no_service (HTTP 404): the webhook was removed; create a new incoming "
                             "webhook and update the connection")
    assert not error.retryable


def test_rate_limited_webhook_is_retryable_after_the_time_slack_asks(call: Call, server: RecordingServer) -> None:
    server.reply(Reply(429, "rate_limited", {"Retry-After": "12"}))

    error = failure(call, "slack.webhook", {"text": "hi"}, hook(server))

    assert (error.retryable, error.retry_after) == (True, 12)


def test_outbound_policy_refuses_a_local_webhook(call: Call, server: RecordingServer) -> None:
    error = failure(call, "slack.webhook", {"text": "hi"}, hook(server), policy=OutboundPolicy())

    assert "refused to connect to 127.0.0.1" in error.message
    assert server.requests == []


def test_check_signs_in_with_the_bot_token(server: RecordingServer) -> None:
    server.reply(Reply(200, {"ok": True, "team": "Acme", "user": "relaybot", "team_id": "T1", "user_id": "U1"}))

    verified = find_connection_type("slack").check(bot(server), 5)

    assert verified == "bot token works: signed in as relaybot in team Acme"
    [request] = server.requests
    assert (request.path, request.header("Authorization")) == ("/api/auth.test", f"Bearer {TOKEN}")


def test_check_reports_a_rejected_token(server: RecordingServer) -> None:
    server.reply(Reply(200, {"ok": False, "error": "token_revoked"}))

    with pytest.raises(ConnectorError, match="check the bot token"):
        find_connection_type("slack").check(bot(server), 5)


def test_check_does_not_post_to_the_webhook(server: RecordingServer) -> None:
    verified = find_connection_type("slack").check(hook(server), 5)

    assert "not tested" in verified
    assert server.requests == []


@pytest.mark.parametrize(("fields", "problems"), [
    ({}, {"bot_token": "give a bot token, a webhook URL, or both"}),
    ({"bot_token": "xoxp-user-token"}, {"bot_token": "a bot token starts with xoxb-"}),
    ({"webhook_url": "http://hooks.slack.com/services/x"},
     {"webhook_url": "must be an https:// URL like https://hooks.slack.com/services/..."}),
    ({"bot_token": TOKEN, "base_url": "ftp://gateway"},
     {"base_url": "base_url must start with https:// or http://, not ftp"}),
    ({"bot_token": TOKEN, "webhook_url": "https://hooks.slack.com/services/x"}, {}),
])
def test_validate_explains_unusable_fields_without_repeating_secrets(fields: dict, problems: dict) -> None:
    assert find_connection_type("slack").validate(fields) == problems
