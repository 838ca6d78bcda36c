"""Outbound safety end to end: ``http.request`` and ``webhook.send`` run through ``call_action`` under an
``OutboundPolicy``, against real local servers, so a refusal is proved by the server never seeing the request;
plus the policy's parsing and address classification."""

from __future__ import annotations

import base64
import ipaddress
import time
from collections.abc import Iterator
from typing import Any

import pytest

from automation.actions import call_action
from integrations.base import CallContext, ConnectorError
from integrations.outbound import OutboundPolicy, address_kind
from tests.support.recording_server import RecordingServer, Reply

CONTEXT = CallContext(execution_id=1, step_id="s", attempt=1, timeout=5)
WEBHOOK_CONNECTION = {"id": 1, "name": "hook", "connector": "webhook",
                      "signing_secret": "whsec_" + base64.b64encode(b"s" * 32).decode()}
ACTIONS = ["http.request", "webhook.send"]


def call(uses: str, url: str, policy: OutboundPolicy) -> dict[str, Any]:
    if uses == "webhook.send":
        return call_action(uses, {"url": url, "payload": {"n": 1}}, WEBHOOK_CONNECTION, CONTEXT, policy)
    return call_action(uses, {"url": url}, None, CONTEXT, policy)


def refused(uses: str, url: str, policy: OutboundPolicy | None = None) -> ConnectorError:
    with pytest.raises(ConnectorError, match="refused to connect") as caught:
        call(uses, url, policy or OutboundPolicy())
    assert not caught.value.retryable
    return caught.value


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    with RecordingServer() as running:
        yield running


@pytest.fixture
def server_v6() -> Iterator[RecordingServer]:
    with RecordingServer("::1") as running:
        yield running


@pytest.mark.parametrize("uses", ACTIONS)
def test_loopback_is_refused_by_default_and_never_reached(server: RecordingServer, uses: str) -> None:
    error = refused(uses, f"{server.url}/")

    assert "127.0.0.1" in error.message
    assert "a loopback address" in error.message
    assert server.requests == []


@pytest.mark.parametrize("uses", ACTIONS)
@pytest.mark.parametrize(("url", "address"), [
    ("http://10.0.0.1/", "10.0.0.1"),
    ("http://169.254.169.254/latest/meta-data", "169.254.169.254"),
])
def test_private_and_metadata_addresses_are_refused_before_connecting(uses: str, url: str, address: str) -> None:
    started = time.monotonic()

    error = refused(uses, url)

    assert address in error.message
    # A connect attempt to an unrouted address would hang until the 5 s step timeout.
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("uses", ACTIONS)
def test_ipv6_loopback_is_refused_by_default_and_never_reached(server_v6: RecordingServer, uses: str) -> None:
    error = refused(uses, f"{server_v6.url}/")

    assert "::1" in error.message
    assert server_v6.requests == []


@pytest.mark.parametrize("uses", ACTIONS)
@pytest.mark.parametrize("host", ["2130706433", "0x7f000001", "127.1", "[::ffff:127.0.0.1]"])
def test_numeric_spellings_of_loopback_are_refused(server: RecordingServer, uses: str, host: str) -> None:
    error = refused(uses, f"http://{host}:{server.port}/")

    assert "127.0.0.1" in error.message
    assert server.requests == []


@pytest.mark.parametrize("uses", ACTIONS)
@pytest.mark.parametrize("allowed", ["127.0.0.1", "127.0.0.0/8"])
def test_listed_loopback_address_or_network_is_reached(server: RecordingServer, uses: str, allowed: str) -> None:
    output = call(uses, f"{server.url}/in", OutboundPolicy.parse(allowed))

    assert output["status"] == 200
    assert [r.path for r in server.requests] == ["/in"]


@pytest.mark.parametrize("uses", ACTIONS)
def test_listed_ipv6_loopback_is_reached(server_v6: RecordingServer, uses: str) -> None:
    output = call(uses, f"{server_v6.url}/in", OutboundPolicy.parse("::1"))

    assert output["status"] == 200
    assert [r.path for r in server_v6.requests] == ["/in"]


def test_redirect_from_an_allowed_host_to_a_refused_address_is_not_followed(
        server: RecordingServer, server_v6: RecordingServer) -> None:
    server.reply(Reply(302, b"", {"Location": f"{server_v6.url}/internal"}))

    error = refused("http.request", f"{server.url}/start", OutboundPolicy.parse("127.0.0.1"))

    assert "::1" in error.message
    assert [r.path for r in server.requests] == ["/start"]
    assert server_v6.requests == []


@pytest.mark.parametrize("uses", ACTIONS)
def test_host_name_resolving_to_loopback_is_refused_unless_listed(server: RecordingServer, uses: str) -> None:
    url = f"http://localhost:{server.port}/"

    error = refused(uses, url)
    assert "localhost" in error.message
    assert server.requests == []

    assert call(uses, url, OutboundPolicy.parse("localhost"))["status"] == 200
    assert len(server.requests) == 1


def test_policy_parses_hosts_addresses_and_networks() -> None:
    policy = OutboundPolicy.parse(" Internal.Example.COM. , 10.0.0.0/8, [::1], 192.168.1.5 ,")

    assert policy.hosts == frozenset({"internal.example.com"})
    assert set(policy.networks) == {ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128"),
                                    ipaddress.ip_network("192.168.1.5/32")}


def test_empty_policy_allows_nothing_extra() -> None:
    assert OutboundPolicy.parse(None) == OutboundPolicy.parse("") == OutboundPolicy()


@pytest.mark.parametrize("entry", ["http://example.com", "10.0.0.0/33", "exa mple.com", "host:8080", "a/b"])
def test_policy_rejects_entries_that_are_not_hosts_addresses_or_networks(entry: str) -> None:
    with pytest.raises(ValueError, match="is not a host name"):
        OutboundPolicy.parse(f"example.com,{entry}")


@pytest.mark.parametrize(("address", "kind"), [
    ("100.64.0.1", "carrier-grade NAT"),
    ("224.0.0.1", "multicast"),
    ("fd00::1", "private network"),
    ("0.0.0.0", "unspecified"),
    ("::ffff:10.0.0.1", "private network"),
    ("169.254.169.254", "link-local"),
])
def test_address_kind_names_why_an_address_is_internal(address: str, kind: str) -> None:
    assert kind in (address_kind(ipaddress.ip_address(address)) or "")


@pytest.mark.parametrize("address", ["8.8.8.8", "2001:4860:4860::8888"])
def test_address_kind_is_none_for_public_addresses(address: str) -> None:
    assert address_kind(ipaddress.ip_address(address)) is None


def test_refusal_tells_the_operator_what_to_allow() -> None:
    reason = OutboundPolicy().refusal("db.internal", ipaddress.ip_address("10.1.2.3"))

    assert reason is not None
    assert "db.internal (10.1.2.3)" in reason
    assert "RELAY_ALLOWED_HOSTS=db.internal" in reason
