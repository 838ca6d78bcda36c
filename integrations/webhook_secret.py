"""The ``webhook_secret`` connection type: the secret an incoming webhook (``/hooks/<token>``) verifies
requests with, named by a webhook trigger's ``verify.connection`` so the secret never sits in a definition.

One secret serves every scheme: a Standard Webhooks ``whsec_`` key, the HMAC key of a GitHub-style
signature, or a shared token compared to a header. It is compared with header values, which carry visible
ASCII only, so that is all it may hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.base import ConnectionField, ConnectionType, ConnectorError
from integrations.registry import register_connection_type
from integrations.webhook import SECRET_PREFIX, secret_problem

MIN_LENGTH, MAX_LENGTH = 16, 1000


def problem(value: Any) -> str | None:
    """What is wrong with a secret, never quoting it; None when it is usable."""
    if not isinstance(value, str) or not MIN_LENGTH <= len(value) <= MAX_LENGTH:
        return f"must be {MIN_LENGTH} to {MAX_LENGTH} characters (a shorter secret can be guessed)"
    if not all(" " < ch <= "~" for ch in value):
        return "must be visible ASCII without spaces: it is compared with HTTP header values"
    if value.startswith(SECRET_PREFIX):
        return secret_problem(value)
    return None


def validate_connection(fields: Mapping[str, Any]) -> dict[str, str]:
    reason = problem(fields.get("secret"))
    return {"secret": reason} if reason else {}


def check_connection(fields: Mapping[str, Any], timeout: float) -> str:
    reason = problem(fields.get("secret"))
    if reason is not None:
        raise ConnectorError(f"secret {reason}")
    kind = ("a Standard Webhooks key" if fields["secret"].startswith(SECRET_PREFIX)
            else f"a {len(fields['secret'])}-character secret")
    return f"the secret is {kind}; nothing was contacted, since senders call Relay with it"


WEBHOOK_SECRET_CONNECTION = register_connection_type(ConnectionType(
    key="webhook_secret",
    title="Incoming webhook secret",
    description="The secret a webhook trigger checks requests with (verify: {scheme, connection}).",
    fields=(
        ConnectionField("secret", "Secret", secret=True, required=True,
                        description=f"{MIN_LENGTH} to {MAX_LENGTH} visible ASCII characters; for the "
                                    f"standard_webhooks scheme a {SECRET_PREFIX} key as the sender shows it."),
    ),
    check=check_connection,
    validate=validate_connection,
))
