"""Error reports to Sentry when SENTRY_DSN is set: unhandled errors of web requests (Flask), of worker jobs
(RQ) and ERROR log lines of every process (Sentry's logging integration, on by default).

Nothing secret leaves: personal data collection (``send_default_pii``) stays off, and ``scrub_event`` runs
over the whole event before it is sent, whatever part carries the value — request headers, cookies, query,
body, stack frame variables, breadcrumbs, exception text. It filters by name (authorization, cookies,
webhook signature headers, any key that looks like a token, secret, password or key), by form (``Bearer
...`` credentials, sensitive query parameters), and by value: every connection secret this process has
decrypted (automation/redaction.py) and Relay's own keys and tokens from the settings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib.metadata import version
from typing import Any

from flask import Flask

from automation.redaction import Redactor, remembered

FILTERED = "[Filtered]"
SENSITIVE_NAME = re.compile(r"auth|cookie|secret|signature|token|passw|hmac|api[-_]?key|credential|dsn|session",
                            re.IGNORECASE)
CREDENTIAL = re.compile(r"\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
SENSITIVE_PARAMETER = re.compile(
    r"((?:auth|token|secret|signature|sig|key|password|passwd|hmac)[^=&;\s]*=)[^&;\s]*", re.IGNORECASE)
SETTING_SECRETS = ("SECRET_KEY", "RELAY_METRICS_TOKEN", "SENTRY_DSN")


def init_error_reporting(app: Flask) -> bool:
    """Start reporting to Sentry when SENTRY_DSN is set; returns whether it did."""
    dsn = app.config.get("SENTRY_DSN")
    if not dsn:
        return False
    import sentry_sdk  # noqa: PLC0415 - loaded only where errors are reported
    from sentry_sdk.integrations.flask import FlaskIntegration  # noqa: PLC0415
    from sentry_sdk.integrations.rq import RqIntegration  # noqa: PLC0415

    settings_redactor = Redactor(_setting_secrets(app.config))

    def before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
        return scrub_event(event, settings_redactor)

    sentry_sdk.init(
        dsn=dsn,
        integrations=[FlaskIntegration(), RqIntegration()],
        # send_default_pii stays at its default, off: the SDK deprecates setting it (data_collection follows it).
        before_send=before_send,
        environment=app.config.get("SENTRY_ENVIRONMENT") or app.config.get("RELAY_ENV"),
        release=app.config.get("SENTRY_RELEASE") or f"relay@{version('relay-automation')}",
    )
    return True


def _setting_secrets(config: Mapping[str, Any]) -> list[str]:
    values = [str(config[name]) for name in SETTING_SECRETS if config.get(name)]
    values.extend(key.strip() for key in str(config.get("RELAY_SECRET_KEYS") or "").split(",") if key.strip())
    return values


def scrub_event(event: dict[str, Any], settings_redactor: Redactor) -> dict[str, Any]:
    """The event with every secret replaced by ``[Filtered]`` (see the module docstring)."""
    redactors = (settings_redactor, remembered.redactor)
    return _scrub(event, redactors)


def _scrub(value: Any, redactors: tuple[Redactor, ...]) -> Any:
    if isinstance(value, str):
        return _scrub_text(value, redactors)
    if isinstance(value, Mapping):
        return {
            key: FILTERED if _sensitive(key, item) else _scrub(item, redactors)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(item, redactors) for item in value]
    return value


def _sensitive(key: Any, item: Any) -> bool:
    # Containers keep their structure (a "session" section is scrubbed inside); scalars under such names go.
    return isinstance(key, str) and bool(SENSITIVE_NAME.search(key)) and isinstance(item, str | bytes | int)


def _scrub_text(text: str, redactors: tuple[Redactor, ...]) -> str:
    for redactor in redactors:
        text = redactor.text(text)
    text = CREDENTIAL.sub(lambda m: f"{m.group(1)} {FILTERED}", text)
    return SENSITIVE_PARAMETER.sub(lambda m: f"{m.group(1)}{FILTERED}", text)
