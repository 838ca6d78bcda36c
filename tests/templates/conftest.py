"""Fixtures for template tests: an owner and an approver with API tokens, the local peers every template talks
to — a real SMTP server (aiosmtpd), recording stand-ins for Slack, Twilio and Teams (Teams over TLS, since a
Teams connection must be https), a JSON data server and a webhook receiver — the saved connections the
templates' examples name, pointing at those peers, and a ``Harness`` that instantiates a template through
the API, triggers it (``/hooks/<token>`` or Run now) and runs it in this process."""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from automation.accounts import create_api_token, create_user
from automation.engine import run_execution
from automation.models import Execution, db
from automation.templates import library
from tests.connectors import conftest as connector_fixtures
from tests.connectors.conftest import Certificate, SmtpPeer
from tests.support.recording_server import Recorded, RecordingServer, Reply

# The aiosmtpd server and the self-signed certificate of the connector tests, used here as they are.
start_smtp = connector_fixtures.start_smtp
certificate = connector_fixtures.certificate

TWILIO_SID = "AC" + "0123456789abcdef" * 2
SIGNING_SECRET = "whsec_" + base64.b64encode(b"relay-template-tests-key-32bytes").decode()
HOOK_SECRET = "payments-hmac-secret-0123456789"
APPROVER = "manager@example.com"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def settings(settings: dict[str, Any]) -> dict[str, Any]:
    # Every peer listens on 127.0.0.1, which steps may reach only when the operator allows it.
    return {**settings, "RELAY_ALLOWED_HOSTS": "127.0.0.1"}


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


@pytest.fixture
def owner(ctx: Flask) -> dict[str, str]:
    create_user("owner@example.com", "correct horse battery", "owner")
    return bearer(create_api_token("owner@example.com"))


@pytest.fixture
def approver(owner: dict[str, str]) -> dict[str, str]:
    create_user(APPROVER, "correct horse battery", "approver")
    return bearer(create_api_token(APPROVER))


class TlsRecordingServer(RecordingServer):
    """A RecordingServer answering over TLS with the test certificate (for 127.0.0.1)."""

    def __init__(self, certificate: Certificate, default: Reply) -> None:
        super().__init__(default=default)
        self._httpd.socket = certificate.server_context().wrap_socket(self._httpd.socket, server_side=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"


def twilio_created(request: Recorded) -> Reply:
    """What Twilio answers to a new message: the message resource, queued."""
    form = request.form()
    return Reply(201, {"sid": "SM" + "1" * 32, "account_sid": TWILIO_SID, "status": "queued", "to": form["To"][0],
                       "from": form.get("From", [None])[0], "body": form["Body"][0]})


@dataclass
class Peers:
    """The services the templates talk to, and what each has received."""

    smtp: SmtpPeer
    slack: RecordingServer
    twilio: RecordingServer
    teams: RecordingServer
    data: RecordingServer
    receiver: RecordingServer
    routes: dict[str, Reply] = field(default_factory=dict)

    def serve(self, path: str, body: Any, status: int = 200) -> str:
        """Make the data server answer ``path`` with ``body``; the URL to fetch it from."""
        self.routes[path] = Reply(status, body)
        return self.data.url + path

    def emails(self) -> list[EmailMessage]:
        return [email.message_from_bytes(envelope.content, policy=email.policy.default)
                for envelope in self.smtp.mailbox.received]

    def texts(self) -> list[str]:
        """The plain-text body of each email as the step gave it: SMTP's CRLF line breaks made LF again, without
        the line break MIME adds at the end."""
        return [mail.get_content().replace("\r\n", "\n").removesuffix("\n") for mail in self.emails()]

    def recipients(self) -> list[list[str]]:
        return [list(envelope.rcpt_tos) for envelope in self.smtp.mailbox.received]

    def slack_posts(self) -> list[dict[str, Any]]:
        return [r.json() for r in self.slack.requests if r.path.endswith("/chat.postMessage")]

    def sms(self) -> list[dict[str, str]]:
        return [{k: v[0] for k, v in r.form().items()} for r in self.twilio.requests
                if r.path.endswith("/Messages.json")]

    def teams_cards(self) -> list[dict[str, Any]]:
        return [r.json() for r in self.teams.requests]


@pytest.fixture
def peers(start_smtp: Callable[..., SmtpPeer], certificate: Certificate,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[Peers]:
    # pymsteams posts with requests, which trusts the CA bundle named here.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate.cert_file))
    routes: dict[str, Reply] = {}

    def data_reply(request: Recorded) -> Reply:
        return routes.get(request.path, Reply(404, {"error": "no such report"}))

    slack_ok = Reply(200, {"ok": True, "channel": "C0123", "ts": "1700000000.000100"})
    servers = [RecordingServer(default=slack_ok), RecordingServer(default=twilio_created),
               TlsRecordingServer(certificate, Reply(200, "1")), RecordingServer(default=data_reply),
               RecordingServer(default=Reply(200, {"received": True}))]
    for server in servers:
        server.__enter__()
    slack, twilio, teams, data, receiver = servers
    yield Peers(start_smtp(), slack, twilio, teams, data, receiver, routes)
    # Each server takes up to its half-second poll interval to stop: stop them side by side.
    stopping = [threading.Thread(target=server.__exit__, args=(None, None, None)) for server in servers]
    for thread in stopping:
        thread.start()
    for thread in stopping:
        thread.join()


CONNECTIONS: dict[str, tuple[str, Callable[[Peers], dict[str, Any]]]] = {
    "Company mail": ("smtp", lambda p: {"host": "127.0.0.1", "port": p.smtp.port, "security": "none",
                                        "from_address": "relay@example.com"}),
    "Team Slack": ("slack", lambda p: {"bot_token": "xoxb-template-tests-token", "base_url": p.slack.url + "/api/"}),
    "Twilio": ("twilio", lambda p: {"account_sid": TWILIO_SID, "auth_token": "twilio-auth-token-secret",
                                    "from_number": "+15005550006", "base_url": p.twilio.url}),
    "Teams channel": ("teams", lambda p: {"webhook_url": p.teams.url + "/webhookb2/tests/IncomingWebhook/x/y"}),
    "Accounting hook": ("webhook", lambda p: {"signing_secret": SIGNING_SECRET}),
    "CRM hook": ("webhook", lambda p: {"signing_secret": SIGNING_SECRET}),
    "Payments signing secret": ("webhook_secret", lambda p: {"secret": HOOK_SECRET}),
}


@pytest.fixture
def connections(client: FlaskClient, owner: dict[str, str], peers: Peers) -> None:
    """The connections the templates' examples name, each pointing at its local peer."""
    for name, (connector, fields) in CONNECTIONS.items():
        response = client.post("/api/v1/connections", json={"name": name, "connector": connector,
                                                            "fields": fields(peers)}, headers=owner)
        assert response.status_code == 201, response.get_json()


@dataclass
class Harness:
    client: FlaskClient
    owner: dict[str, str]
    approver: dict[str, str]
    peers: Peers

    def create(self, key: str, publish: bool = True, **params: Any) -> dict[str, Any]:
        """Instantiate ``key`` through the API with its examples, ``params`` on top."""
        body = {"template": key, "name": f"My {key}", "params": {**library()[key].examples(), **params},
                "publish": publish}
        response = self.client.post("/api/v1/workflows", json=body, headers=self.owner)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def hook(self, workflow: dict[str, Any], body: Any, *, signed_in: str | None = None) -> int:
        """POST ``body`` as JSON to the workflow's webhook address (with its HMAC-SHA256 under the payments
        secret in the header ``signed_in``, GitHub style); the execution it started."""
        path = "/hooks/" + workflow["webhook_url"].rsplit("/", 1)[1]
        raw = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if signed_in:
            headers[signed_in] = "sha256=" + hmac.new(HOOK_SECRET.encode(), raw, hashlib.sha256).hexdigest()
        response = self.client.post(path, data=raw, headers=headers)
        assert response.status_code == 202, response.get_json()
        return int(response.get_json()["execution_id"])

    def run_now(self, workflow: dict[str, Any]) -> int:
        response = self.client.post(f"/api/v1/workflows/{workflow['id']}/executions", headers=self.owner)
        assert response.status_code == 202, response.get_json()
        return int(response.get_json()["id"])

    def run(self, execution_id: int) -> Execution:
        """Run the execution in this process, as a worker's job would, and return the fresh row."""
        run_execution(execution_id)
        db.session.expire_all()
        execution = db.session.get(Execution, execution_id)
        assert execution is not None
        return execution

    def steps(self, execution_id: int) -> dict[str, str]:
        """The last status of each step of the run, by step id."""
        found = self.client.get(f"/api/v1/executions/{execution_id}", headers=self.owner).get_json()
        return {step["step_id"]: step["status"] for step in found["steps"]}


@pytest.fixture
def harness(client: FlaskClient, owner: dict[str, str], approver: dict[str, str], peers: Peers,
            connections: None) -> Harness:
    return Harness(client, owner, approver, peers)
