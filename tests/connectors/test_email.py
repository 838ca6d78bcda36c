"""email.send through smtplib against a real aiosmtpd server: what arrives, and how each failure is reported."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from email.message import EmailMessage

import pytest

from integrations import outbound
from integrations.base import CallContext, ConnectorError
from integrations.outbound import OutboundPolicy
from integrations.registry import find_action, find_connection_type
from tests.connectors.conftest import LOCAL, SMTP_PASSWORD, SMTP_USER, Call, Certificate, SmtpPeer

MESSAGE = {
    "to": ["Ann Lee <ann@example.com>", "bob@example.com"],
    "cc": "carol@example.com",
    "bcc": ["audit@example.com"],
    "reply_to": "support@example.com",
    "subject": "Build 42 passed ✓",
    "text": "Build 42 passed.",
    "html": "<p>Build <b>42</b> passed.</p>",
}
SHORT = {"to": "ann@example.com", "subject": "Hello", "text": "Hi Ann"}

# The test servers take a login without TLS on purpose, so aiosmtpd's warning about that is expected.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def parsed(content: bytes) -> EmailMessage:
    return email.message_from_bytes(content, policy=email.policy.default)


def failure(call: Call, inputs: dict, fields: dict, **kwargs) -> ConnectorError:
    with pytest.raises(ConnectorError) as caught:
        call("email.send", inputs, fields, **kwargs)
    return caught.value


def test_send_delivers_the_subject_both_bodies_and_every_recipient(call: Call, smtp: SmtpPeer) -> None:
    output = call("email.send", MESSAGE, smtp.fields(from_name="Acme Alerts"))

    [envelope] = smtp.mailbox.received
    assert envelope.mail_from == "alerts@example.com"
    assert envelope.rcpt_tos == ["ann@example.com", "bob@example.com", "carol@example.com", "audit@example.com"]
    message = parsed(envelope.content)
    assert message["From"] == "Acme Alerts <alerts@example.com>"
    assert message["To"] == "Ann Lee <ann@example.com>, bob@example.com"
    assert message["Cc"] == "carol@example.com"
    assert message["Reply-To"] == "support@example.com"
    assert message["Subject"] == "Build 42 passed ✓"
    assert message.get_content_type() == "multipart/alternative"
    assert message.get_body(("plain",)).get_content().strip() == "Build 42 passed."
    assert message.get_body(("html",)).get_content().strip() == "<p>Build <b>42</b> passed.</p>"
    assert output == {"message_id": "<msg_relay_1_notify@example.com>", "accepted": envelope.rcpt_tos,
                      "refused": {}}


def test_bcc_recipients_are_in_no_header(call: Call, smtp: SmtpPeer) -> None:
    call("email.send", MESSAGE, smtp.fields())

    content = smtp.mailbox.received[0].content
    assert "Bcc" not in parsed(content)
    assert b"audit@example.com" not in content


def test_a_retried_step_sends_the_same_message_id_and_a_date(call: Call, smtp: SmtpPeer) -> None:
    call("email.send", SHORT, smtp.fields(), attempt=1)
    call("email.send", SHORT, smtp.fields(), attempt=2)

    first, second = (parsed(e.content) for e in smtp.mailbox.received)
    assert first["Message-ID"] == second["Message-ID"] == "<msg_relay_1_notify@example.com>"
    assert first["Date"].datetime is not None


def test_an_html_only_message_is_sent_as_html(call: Call, smtp: SmtpPeer) -> None:
    call("email.send", {"to": "ann@example.com", "subject": "Hi", "html": "<p>Hi</p>"}, smtp.fields())

    message = parsed(smtp.mailbox.received[0].content)
    assert message.get_content_type() == "text/html"


def test_recipients_may_be_one_comma_separated_string(call: Call, smtp: SmtpPeer) -> None:
    call("email.send", {**SHORT, "to": '"Lee, Ann" <ann@example.com>, bob@example.com'}, smtp.fields())

    assert smtp.mailbox.received[0].rcpt_tos == ["ann@example.com", "bob@example.com"]


def test_a_line_break_in_the_subject_is_refused_before_connecting(call: Call, smtp: SmtpPeer) -> None:
    error = failure(call, {**SHORT, "subject": "Hi\r\nBcc: victim@example.com"}, smtp.fields())

    assert error.message == "subject: line breaks are not allowed in a subject"
    assert smtp.mailbox.received == []


def test_a_line_break_in_an_address_is_refused_before_connecting(call: Call, smtp: SmtpPeer) -> None:
    error = failure(call, {**SHORT, "cc": "ann@example.com\nBcc: victim@example.com"}, smtp.fields())

    assert error.message == "cc: line breaks are not allowed in an address"
    assert smtp.mailbox.received == []


def test_something_that_is_not_an_address_is_refused_with_what_it_was(call: Call, smtp: SmtpPeer) -> None:
    error = failure(call, {**SHORT, "to": ["ann@example.com", "bob at example"]}, smtp.fields())

    assert error.message == "to: 'bob at example' is not an email address like ann@example.com"
    assert not error.retryable


def test_the_sender_cannot_be_changed_per_message(call: Call, smtp: SmtpPeer) -> None:
    error = failure(call, {**SHORT, "from": "ceo@example.com"}, smtp.fields())

    assert error.message.startswith("from: the sender is the connection's from_address")


def test_a_message_needs_a_body(call: Call, smtp: SmtpPeer) -> None:
    error = failure(call, {"to": "ann@example.com", "subject": "Hi"}, smtp.fields())

    assert error.message == "give the message a body: text, html or both"


def test_the_connections_login_is_used(call: Call, start_smtp: Callable[..., SmtpPeer]) -> None:
    server = start_smtp(login=True)

    call("email.send", SHORT, server.fields(username=SMTP_USER, password=SMTP_PASSWORD))

    assert server.mailbox.received[0].rcpt_tos == ["ann@example.com"]


def test_a_refused_login_is_final_and_the_password_is_never_quoted(call: Call,
                                                                   start_smtp: Callable[..., SmtpPeer]) -> None:
    server = start_smtp(login=True)

    error = failure(call, SHORT, server.fields(username=SMTP_USER, password="wrong-password"))

    assert error.message.startswith("login failed: the SMTP server refused user 'relay' (535")
    assert "wrong-password" not in error.message
    assert not error.retryable
    assert server.mailbox.received == []


def test_every_recipient_refused_is_final_and_names_them(call: Call, smtp: SmtpPeer) -> None:
    smtp.mailbox.rcpt_replies["ann@example.com"] = "550 5.1.1 No such user"

    error = failure(call, SHORT, smtp.fields())

    assert error.message == "the SMTP server refused every recipient (ann@example.com: 550 5.1.1 No such user)"
    assert not error.retryable


def test_recipients_refused_for_now_are_retryable(call: Call, smtp: SmtpPeer) -> None:
    smtp.mailbox.rcpt_replies["ann@example.com"] = "450 4.2.0 Greylisted, try again later"

    assert failure(call, SHORT, smtp.fields()).retryable


def test_some_refused_recipients_are_reported_while_the_rest_get_the_message(call: Call, smtp: SmtpPeer) -> None:
    smtp.mailbox.rcpt_replies["bob@example.com"] = "550 5.1.1 No such user"

    output = call("email.send", {**SHORT, "to": ["ann@example.com", "bob@example.com"]}, smtp.fields())

    assert smtp.mailbox.received[0].rcpt_tos == ["ann@example.com"]
    assert (output["accepted"], output["refused"]) == (["ann@example.com"],
                                                       {"bob@example.com": "550 5.1.1 No such user"})


def test_a_message_refused_for_now_is_retryable(call: Call, smtp: SmtpPeer) -> None:
    smtp.mailbox.data_reply = "451 4.3.0 Temporary failure"

    error = failure(call, SHORT, smtp.fields())

    assert error.message == "the SMTP server refused the message (451 4.3.0 Temporary failure); try again later"
    assert error.retryable
    assert not error.outcome_unknown


def test_no_answer_after_the_message_was_sent_means_it_may_have_gone_out(smtp: SmtpPeer) -> None:
    smtp.mailbox.data_delay = 2
    connector, _ = find_action("email.send")
    context = CallContext(execution_id=1, step_id="notify", attempt=1, timeout=0.5)

    # Run directly (guard on) rather than through call_action, whose own deadline would race smtplib's.
    with outbound.guard(LOCAL), pytest.raises(ConnectorError) as caught:
        connector.run("send", dict(SHORT), smtp.fields(), context)

    assert caught.value.outcome_unknown
    assert caught.value.message == "the SMTP server did not confirm the message in time; it may have been sent"


def test_an_unreachable_server_is_retryable(call: Call, closed_port: int) -> None:
    error = failure(call, SHORT, {"host": "127.0.0.1", "port": closed_port, "security": "none",
                                  "from_address": "alerts@example.com"})

    assert error.message == "could not connect to 127.0.0.1: Connection refused"
    assert error.retryable
    assert not error.outcome_unknown


def test_outbound_policy_refuses_a_local_smtp_server(call: Call, smtp: SmtpPeer) -> None:
    error = failure(call, SHORT, smtp.fields(), policy=OutboundPolicy())

    assert "refused to connect to 127.0.0.1" in error.message
    assert smtp.mailbox.received == []


def test_starttls_with_the_servers_own_ca_delivers(call: Call, start_smtp: Callable[..., SmtpPeer],
                                                   certificate: Certificate) -> None:
    server = start_smtp(tls_context=certificate.server_context(), require_starttls=True)

    call("email.send", SHORT, server.fields(security="starttls", ca_cert=certificate.pem))

    assert len(server.mailbox.received) == 1


def test_starttls_refuses_a_certificate_nobody_trusts(call: Call, start_smtp: Callable[..., SmtpPeer],
                                                      certificate: Certificate) -> None:
    server = start_smtp(tls_context=certificate.server_context(), require_starttls=True)

    error = failure(call, SHORT, server.fields(security="starttls"))

    assert error.message.startswith("TLS failed: self-signed certificate")
    assert not error.retryable
    assert server.mailbox.received == []


def test_starttls_is_required_when_asked_for(call: Call, smtp: SmtpPeer) -> None:
    error = failure(call, SHORT, smtp.fields(security="starttls"))

    assert error.message.startswith("the SMTP server does not offer STARTTLS")
    assert smtp.mailbox.received == []


def test_implicit_tls_with_the_servers_own_ca_delivers(call: Call, start_smtp: Callable[..., SmtpPeer],
                                                       certificate: Certificate) -> None:
    server = start_smtp(ssl_context=certificate.server_context())

    call("email.send", SHORT, server.fields(security="tls", ca_cert=certificate.pem))

    assert len(server.mailbox.received) == 1


def test_check_connects_encrypts_and_logs_in(start_smtp: Callable[..., SmtpPeer], certificate: Certificate) -> None:
    server = start_smtp(login=True, tls_context=certificate.server_context())
    fields = server.fields(security="starttls", ca_cert=certificate.pem, username=SMTP_USER, password=SMTP_PASSWORD)

    verified = find_connection_type("smtp").check(fields, 5)

    assert verified == f"connected to 127.0.0.1:{server.port} with STARTTLS, logged in as relay"
    assert server.mailbox.received == []


def test_check_reports_a_refused_login(start_smtp: Callable[..., SmtpPeer]) -> None:
    server = start_smtp(login=True)

    with pytest.raises(ConnectorError, match="^login failed"):
        find_connection_type("smtp").check(server.fields(username=SMTP_USER, password="wrong-password"), 5)


@pytest.mark.parametrize(("fields", "problems"), [
    ({"host": "mail.example.com", "from_address": "alerts@example.com"}, {}),
    ({"host": "mail.example.com", "from_address": "alerts@example.com", "username": "relay"},
     {"password": "required when a username is given"}),
    ({"host": "mail.example.com", "from_address": "Alerts"},
     {"from_address": "must be one email address like alerts@example.com"}),
    ({"host": "mail.example.com", "from_address": "alerts@example.com", "ca_cert": "not a certificate"},
     {"ca_cert": "ca_cert is not a PEM certificate (-----BEGIN CERTIFICATE----- ...)"}),
])
def test_validate_explains_unusable_fields(fields: dict, problems: dict) -> None:
    assert find_connection_type("smtp").validate(fields) == problems
