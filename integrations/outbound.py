"""Outbound safety: which addresses a step may connect to, checked where the connection is really made.

Every name a connector's library resolves while a step runs goes through ``socket.getaddrinfo``; while a
policy is active in the calling thread, ``guarded_getaddrinfo`` refuses the whole lookup when any address
it returns is loopback, private, link-local (cloud metadata), multicast, reserved or otherwise not global,
unless the operator allowed that host or network in ``RELAY_ALLOWED_HOSTS``. Because the libraries connect
only to addresses from that same lookup, a second DNS answer cannot swap in an internal address, every
redirect is checked when its connection is opened, and numeric spellings (``2130706433``, ``127.1``,
``[::ffff:127.0.0.1]``) are caught after the resolver turned them into addresses.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from integrations.base import ConnectorError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")
_state = threading.local()
_install_lock = threading.Lock()
_real_getaddrinfo = socket.getaddrinfo


class OutboundRefused(OSError):
    """A lookup returned an address the policy does not allow. Libraries wrap it in their own errors, so the
    guard also remembers the refusal for ``refusal()`` to report."""


def address_kind(address: IPAddress) -> str | None:
    """Why ``address`` is not a public internet address, or None when it is one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address_kind(address.ipv4_mapped)
    checks = (
        (address.is_loopback, "a loopback address"),
        (address.is_unspecified, "the unspecified address"),
        (address.is_link_local, "a link-local address (this includes cloud metadata services)"),
        (address.is_multicast, "a multicast address"),
        (address in _SHARED_ADDRESS_SPACE, "a carrier-grade NAT address"),
        (address.is_private, "a private network address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "not a public internet address"),
    )
    return next((reason for failed, reason in checks if failed), None)


@dataclass(frozen=True)
class OutboundPolicy:
    """Hosts (exact names, any case) and networks the operator allowed despite being internal."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> OutboundPolicy:
        """Parse ``RELAY_ALLOWED_HOSTS``: comma-separated host names, addresses and CIDR networks.

        Raises:
            ValueError: naming an entry that is neither.
        """
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in filter(None, (e.strip() for e in (text or "").split(","))):
            bare = entry.strip("[]")
            try:
                networks.append(ipaddress.ip_network(bare, strict=False))
                continue
            except ValueError:
                pass
            if "/" in entry or not all(part.replace("-", "").replace("_", "").isalnum() for part in
                                       entry.rstrip(".").split(".")):
                raise ValueError(f"{entry!r} is not a host name, an address or a network like 10.0.0.0/8")
            hosts.add(entry.rstrip(".").lower())
        return cls(frozenset(hosts), tuple(networks))

    def refusal(self, host: str, address: IPAddress) -> str | None:
        """The reason to refuse connecting to ``address`` (found for ``host``), or None to allow it."""
        if host.rstrip(".").lower() in self.hosts or any(address in network for network in self.networks):
            return None
        kind = address_kind(address)
        if kind is None:
            return None
        shown = host if host == str(address) else f"{host} ({address})"
        return (f"refused to connect to {shown}: {kind}; an operator can allow it with "
                f"RELAY_ALLOWED_HOSTS={host if host != str(address) else address}")


def guarded_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
    results = _real_getaddrinfo(host, port, *args, **kwargs)
    policy: OutboundPolicy | None = getattr(_state, "policy", None)
    if policy is None or host is None:
        return results
    name = host.decode() if isinstance(host, bytes) else str(host)
    for *_, sockaddr in results:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        reason = policy.refusal(name, address)
        if reason is not None:
            _state.refused = reason
            raise OutboundRefused(reason)
    return results


def install() -> None:
    """Route this process's name lookups through the guard (idempotent; inactive until ``guard``)."""
    with _install_lock:
        if socket.getaddrinfo is not guarded_getaddrinfo:
            socket.getaddrinfo = guarded_getaddrinfo


@contextmanager
def guard(policy: OutboundPolicy) -> Iterator[None]:
    """Apply ``policy`` to every connection the current thread opens inside the block."""
    install()
    previous = getattr(_state, "policy", None)
    _state.policy, _state.refused = policy, None
    try:
        yield
    finally:
        _state.policy = previous


def refusal() -> str | None:
    """The refusal met in this thread's current or last ``guard`` block, if any."""
    return getattr(_state, "refused", None)


def check_url(url: Any, what: str = "url") -> str:
    """A well-formed http(s) URL, or a ``ConnectorError`` naming what is wrong with it."""
    if not isinstance(url, str) or not url.strip():
        raise ConnectorError(f"{what} must be a URL like https://example.com/hook")
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise ConnectorError(f"{what} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ConnectorError(f"{what} must start with https:// or http://, not {parts.scheme or 'nothing'}")
    if not parts.hostname:
        raise ConnectorError(f"{what} has no host name")
    return url
