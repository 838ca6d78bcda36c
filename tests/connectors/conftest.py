"""Fixtures for connector tests: calling an action through the engine's real entry point (outbound guard on),
a recording HTTP peer for the HTTP-based services, and a real SMTP server for email."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from automation.actions import call_action
from integrations.base import CallContext
from integrations.outbound import OutboundPolicy
from tests.support.recording_server import RecordingServer

LOCAL = OutboundPolicy.parse("127.0.0.1,::1")

Call = Callable[..., dict[str, Any]]


@pytest.fixture
def call() -> Call:
    """``call("slack.post_message", inputs, fields)`` runs the action as a step would, allowed to reach local
    peers unless ``policy`` says otherwise."""

    def run(uses: str, inputs: dict[str, Any], fields: Mapping[str, Any], *, policy: OutboundPolicy = LOCAL,
            timeout: float = 5, attempt: int = 1) -> dict[str, Any]:
        connection = {"id": 1, "name": "test connection", "connector": uses.partition(".")[0], **fields}
        context = CallContext(execution_id=1, step_id="notify", attempt=attempt, timeout=timeout)
        return call_action(uses, inputs, connection, context, policy)

    return run


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    with RecordingServer() as recording:
        yield recording


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on: connecting to it is refused."""
    with RecordingServer() as recording:
        port = recording.port
    return port


SMTP_USER, SMTP_PASSWORD = "relay", "smtp-password-secret"


@dataclass
class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts and answers as a test tells it to."""

    received: list[Envelope] = field(default_factory=list)
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    data_reply: str = "250 OK"
    data_delay: float = 0.0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        reply = self.rcpt_replies.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        if self.data_reply.startswith("250"):
            self.received.append(envelope)
        return self.data_reply


@dataclass
class SmtpPeer:
    port: int
    mailbox: Mailbox

    def fields(self, **extra: Any) -> dict[str, Any]:
        return {"host": "127.0.0.1", "port": self.port, "security": "none", "from_address": "alerts@example.com",
                **extra}


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        SMTP_USER.encode(), SMTP_PASSWORD.encode())
    # handled=False: aiosmtpd then sends the 235/535 reply itself.
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def start_smtp() -> Iterator[Callable[..., SmtpPeer]]:
    """``start_smtp(**controller_options)`` runs a real aiosmtpd server on 127.0.0.1, stopped after the test.
    ``login=True`` makes it require the SMTP_USER/SMTP_PASSWORD login (allowed without TLS, for tests)."""
    controllers: list[Controller] = []

    def start(*, login: bool = False, **options: Any) -> SmtpPeer:
        mailbox = Mailbox()
        if login:
            options.update(authenticator=_authenticate, auth_required=True, auth_require_tls=False)
        controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port(), **options)
        controller.start()
        controllers.append(controller)
        return SmtpPeer(controller.port, mailbox)

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def smtp(start_smtp: Callable[..., SmtpPeer]) -> SmtpPeer:
    return start_smtp()


def _free_port() -> int:
    # aiosmtpd checks it is up by connecting to its port, so it cannot be given port 0.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate for 127.0.0.1: ``pem`` to trust it, ``server_context()`` to serve with it."""

    pem: str
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Relay test SMTP")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    (folder / "cert.pem").write_text(pem)
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                       serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return Certificate(pem, folder / "cert.pem", folder / "key.pem")
