"""Checking that an incoming webhook request comes from its sender, per the trigger's ``verify`` option.

Three schemes, all over the raw request bytes (never re-serialised JSON): Standard Webhooks signatures
(with the ``standardwebhooks`` library), a shared secret in a header, and an HMAC-SHA256 of the body (GitHub
and Stripe style, optionally over ``{timestamp}.{body}``). Every comparison is constant-time, and no failure
message quotes the expected value. The secret comes from a ``webhook_secret`` connection. Replay
protection beyond the timestamp tolerance is the caller's de-duplication; the library keeps no memory.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from automation import connections
from automation.expressions import ExpressionError, Renderer
from automation.hook_options import STANDARD_WEBHOOKS_HEADERS, Verify
from automation.secret_box import SecretsUnreadable
from integrations.webhook import SECRET_PREFIX, secret_problem

CONNECTION_TYPE = "webhook_secret"
# One entry of a Standard Webhooks signature header: a version, a comma, the base64 signature.
SIGNATURE_ENTRY = re.compile(r"v[0-9]+[a-z]*,[A-Za-z0-9+/]+={0,2}")


class VerificationFailed(Exception):
    """The request is not proven to come from the sender (an HTTP 401). ``reason`` is machine-readable:
    signature_missing, signature_malformed, signature_mismatch, timestamp_malformed or timestamp_stale."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class VerifierUnusable(Exception):
    """The workflow's verification cannot run: its connection is missing, of another type, unreadable or
    holds the wrong kind of secret (an HTTP 503; the sender should retry once the owner has fixed it)."""


def verify(verify: Verify, *, workspace_id: int, params: Mapping[str, Any], raw: bytes,
           headers: Mapping[str, str], now: float | None = None) -> None:
    """Return when the request is authentic.

    ``headers`` must be case-insensitive (Werkzeug's request headers are).

    Raises:
        VerificationFailed: the request is unsigned, tampered with or stale.
        VerifierUnusable: the secret cannot be had.
    """
    secret = _secret(verify, workspace_id, params)
    now = time.time() if now is None else now
    if verify.scheme == "standard_webhooks":
        _standard_webhooks(secret, raw, headers)
    elif verify.scheme == "shared_secret":
        _shared_secret(verify, secret, headers)
    else:
        _hmac_sha256(verify, secret, raw, headers, now)


def _secret(verify: Verify, workspace_id: int, params: Mapping[str, Any]) -> str:
    try:
        # Rendered with the workflow's params only: nothing the caller sends may choose the secret.
        reference = Renderer().render(verify.connection, {"params": dict(params)}, "trigger.verify.connection")
    except ExpressionError as exc:
        raise VerifierUnusable(str(exc)) from None
    connection = connections.find(workspace_id, reference)
    if connection is None:
        raise VerifierUnusable(f"no connection named {str(reference).strip()!r} in this workspace")
    if connection.connector != CONNECTION_TYPE:
        raise VerifierUnusable(f"connection {connection.name!r} is a {connection.connector} connection, "
                               f"not a {CONNECTION_TYPE} one")
    try:
        secret = connections.load(connection).fields.get("secret")
    except SecretsUnreadable:
        raise VerifierUnusable(f"the secret of connection {connection.name!r} cannot be decrypted with the "
                               "configured RELAY_SECRET_KEYS") from None
    if not isinstance(secret, str) or not secret:
        raise VerifierUnusable(f"connection {connection.name!r} has no secret")
    if verify.scheme == "standard_webhooks" and secret_problem(secret):
        raise VerifierUnusable(f"connection {connection.name!r} does not hold a Standard Webhooks "
                               f"{SECRET_PREFIX} key")
    return secret


def _standard_webhooks(secret: str, raw: bytes, headers: Mapping[str, str]) -> None:
    missing = [name for name in STANDARD_WEBHOOKS_HEADERS if not headers.get(name)]
    if missing:
        raise VerificationFailed("signature_missing", f"missing header(s): {', '.join(missing)}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise VerificationFailed("signature_mismatch", "the body is not UTF-8, so it cannot match a Standard "
                                                       "Webhooks signature") from None
    # Checked here, not left to the library: how it reports a malformed header changed between its releases.
    if not any(SIGNATURE_ENTRY.fullmatch(entry) for entry in headers["webhook-signature"].split()):
        raise VerificationFailed("signature_malformed", "webhook-signature is not a list of 'v1,<base64>' "
                                                        "signatures")
    wanted = {name: headers[name] for name in STANDARD_WEBHOOKS_HEADERS}
    try:
        Webhook(secret).verify(text, wanted, json_parse=False)
    except WebhookVerificationError as exc:
        # The library says which check failed only in its message.
        if "too old" in str(exc) or "too new" in str(exc):
            raise VerificationFailed("timestamp_stale", "webhook-timestamp is more than 5 minutes away from "
                                                        "now") from None
        if "Invalid Signature Headers" in str(exc):
            raise VerificationFailed("timestamp_malformed", "webhook-timestamp is not a Unix time") from None
        raise VerificationFailed("signature_mismatch", "webhook-signature does not match the body") from None
    except (ValueError, binascii.Error):
        # The library's own trap: a signature that is not "v1,<base64>" raises these, not its error type.
        raise VerificationFailed("signature_malformed", "webhook-signature is not a list of "
                                                        "'v1,<base64>' signatures") from None


def _shared_secret(verify: Verify, secret: str, headers: Mapping[str, str]) -> None:
    header = verify.header or ""
    given = headers.get(header)
    if not given:
        raise VerificationFailed("signature_missing", f"missing header {header}")
    if not given.startswith(verify.prefix):
        raise VerificationFailed("signature_malformed", f"{header} does not start with {verify.prefix!r}")
    # Werkzeug decodes header bytes as latin-1; encoding back gives the bytes that were sent.
    if not hmac.compare_digest(given.removeprefix(verify.prefix).encode("latin-1"), secret.encode()):
        raise VerificationFailed("signature_mismatch", f"{header} does not hold this webhook's secret")


def _hmac_sha256(verify: Verify, secret: str, raw: bytes, headers: Mapping[str, str], now: float) -> None:
    header = verify.header or ""
    given = headers.get(header)
    if not given:
        raise VerificationFailed("signature_missing", f"missing header {header}")
    signed = raw
    if verify.timestamp_header:
        signed = _timestamp(verify, headers, now).encode() + b"." + raw
    if not given.startswith(verify.prefix):
        raise VerificationFailed("signature_malformed", f"{header} does not start with {verify.prefix!r}")
    encoded = given.removeprefix(verify.prefix).strip()
    try:
        signature = bytes.fromhex(encoded) if verify.encoding == "hex" else base64.b64decode(encoded, validate=True)
    except (ValueError, binascii.Error):
        raise VerificationFailed("signature_malformed", f"{header} is not {verify.encoding}") from None
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        raise VerificationFailed("signature_mismatch", f"{header} does not match the body")


def _timestamp(verify: Verify, headers: Mapping[str, str], now: float) -> str:
    name = verify.timestamp_header or ""
    value = (headers.get(name) or "").strip()
    if not value:
        raise VerificationFailed("signature_missing", f"missing header {name}")
    if not (value.isascii() and value.isdigit() and len(value) <= 12):
        raise VerificationFailed("timestamp_malformed", f"{name} is not a Unix time in seconds")
    if abs(now - int(value)) > verify.tolerance.total_seconds():
        raise VerificationFailed("timestamp_stale", f"{name} is more than {verify.tolerance.total_seconds():g}s "
                                                    "away from now")
    return value
