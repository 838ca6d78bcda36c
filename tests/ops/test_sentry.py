"""Sentry, when SENTRY_DSN is set: an unhandled error in a request and an ERROR log line each arrive as an
envelope at the DSN's ingest endpoint (a local HTTP server stands in for Sentry), and neither carries a
secret — not the caller's credentials, cookies or webhook signature, nor a connection secret this process
decrypted, wherever it appears (exception text, request body, query, local variables)."""

from __future__ import annotations

import gzip
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import sentry_sdk
from flask import Flask

from app import create_app
from automation.config import ConfigError, Settings
from automation.connections import create_connection, load
from automation.web.sessions import csrf
from tests.support.recording_server import RecordingServer

SECRET = "shop-signing-secret-9f8e7d6c5b4a"
BEARER = "rly_caller_token_1234567890"
COOKIE = "session-cookie-value-abcdef"
SIGNATURE = "sha256=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd"
QUERY_TOKEN = "query-token-value-42"


@pytest.fixture
def sentry() -> Iterator[RecordingServer]:
    with RecordingServer() as server:
        yield server
    sentry_sdk.init()  # no DSN: later tests in this process report nowhere


@pytest.fixture
def reporting_app(settings: dict[str, Any], app: Flask, sentry: RecordingServer) -> Iterator[Flask]:
    """The test app's database, with Sentry reporting to ``sentry`` and a view that fails with a secret."""
    # Errors answered with a 500, as in production, rather than raised into the test.
    reporting = create_app({**settings, "SENTRY_DSN": f"http://publickey@127.0.0.1:{sentry.port}/1",
                            "PROPAGATE_EXCEPTIONS": False})
    with reporting.app_context():
        from automation.models import Workspace, db  # noqa: PLC0415

        workspace = Workspace(name="Acme")
        db.session.add(workspace)
        db.session.commit()
        loaded = load(create_connection(workspace.id, "Shop signing", "webhook_secret", {"secret": SECRET}))

        def failing_view() -> str:
            api_key = loaded.fields["secret"]  # a local variable Sentry would show in the frame
            raise RuntimeError(f"could not verify the delivery with {api_key}")

        reporting.add_url_rule("/failing", view_func=csrf.exempt(failing_view), methods=["POST"])
        yield reporting


def envelopes(server: RecordingServer) -> list[str]:
    sentry_sdk.flush(timeout=10)
    bodies = []
    for request in server.requests:
        assert request.path == "/api/1/envelope/"
        body = gzip.decompress(request.body) if request.header("Content-Encoding") == "gzip" else request.body
        bodies.append(body.decode())
    return bodies


def test_an_unhandled_request_error_reaches_sentry_without_any_secret(reporting_app, sentry):
    response = reporting_app.test_client().post(
        f"/failing?token={QUERY_TOKEN}", json={"password": SECRET, "note": f"signed with {SECRET}"},
        headers={"Authorization": f"Bearer {BEARER}", "Cookie": f"session={COOKIE}",
                 "X-Hub-Signature-256": SIGNATURE},
    )

    assert response.status_code == 500
    sent = "\n".join(envelopes(sentry))
    assert '"mechanism":{"type":"flask","handled":false}' in sent
    assert "could not verify the delivery with [redacted]" in sent
    for secret in (SECRET, BEARER, COOKIE, SIGNATURE, QUERY_TOKEN):
        assert secret not in sent


def test_an_error_log_line_reaches_sentry_without_the_connection_secret(reporting_app, sentry):
    logging.getLogger("automation.engine").error("delivery refused by %s", SECRET)

    [envelope] = envelopes(sentry)
    assert "delivery refused by [redacted]" in envelope
    assert SECRET not in envelope


def test_events_name_the_environment_and_the_release(reporting_app, sentry):
    logging.getLogger("automation.engine").error("something broke")

    [envelope] = envelopes(sentry)
    assert '"environment":"development"' in envelope.replace(" ", "")
    assert '"release":"relay@' in envelope.replace(" ", "")


def test_a_malformed_dsn_stops_start_up_without_showing_the_value():
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"SENTRY_DSN": "mykey-not-a-url"})

    assert str(raised.value).startswith("SENTRY_DSN: ")
    assert "mykey" not in str(raised.value)
