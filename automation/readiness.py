"""The readiness checks behind ``GET /ready`` and ``relay doctor``: database, migrations, Redis, scheduler and
worker, each a small function whose result is named, timed and safe to show (a host name, never a password).

The checks run in two daemon threads — the database pair and the Redis trio, each in order, since the
checks after a group's first mean nothing when its store is unreachable — and the caller waits at most
``DEADLINE`` seconds for both: a database or Redis that accepts connections and then never answers makes
its checks fail with "no answer" instead of holding a load balancer's probe. The threads use their own connections with
short timeouts (a NullPool engine, a Redis client), never the app's pool or its 30-second Redis client.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from rq import Queue, Worker
from rq.defaults import DEFAULT_WORKER_TTL
from sqlalchemy.pool import NullPool

from automation.leader import heartbeat_key, read_heartbeat

DEADLINE = 1.8
REDIS_TIMEOUT = 0.5
DATABASE_TIMEOUT_MS = 1500
# RQ's own rule: an idle worker beats once per blocking dequeue (worker_ttl - 15 s) and its key expires
# worker_ttl + 60 s after the last beat, so only a beat older than that means the worker is gone.
WORKER_FRESH = timedelta(seconds=DEFAULT_WORKER_TTL + 60)
# The leader beats every third of RELAY_LEADER_TTL and a standby takes over one TTL after it dies, so a
# beat older than two TTLs means no scheduler has led for longer than a failover takes.
SCHEDULER_FRESH_TTLS = 2

ENGINE_KEY = "relay_readiness_engine"
REDIS_KEY = "relay_readiness_redis"


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    took_ms: int

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail, "took_ms": self.took_ms}


class CheckFailed(Exception):
    """A check's answer is "not ready"; the message says why and what to do."""


Check = Callable[[Flask], str]


def database_check(app: Flask) -> str:
    with readiness_engine(app).connect() as connection:
        connection.execute(sa.text("SELECT 1"))
    return f"reachable: {describe_database(app.config['SQLALCHEMY_DATABASE_URI'])}"


def migrations_check(app: Flask) -> str:
    script = _script_directory(app.extensions["migrate"].directory)
    heads = set(script.get_heads())
    with readiness_engine(app).connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    expected = ", ".join(sorted(heads))
    if current == heads:
        return f"at the newest revision ({expected})"
    if not current:
        raise CheckFailed(f"the database has no migration revision (the code expects {expected}); "
                          "run `relay db upgrade`")
    at = ", ".join(sorted(current))
    known = {revision.revision for revision in script.walk_revisions()}
    if not current <= known:
        raise CheckFailed(f"the database is at revision {at}, which this code does not know (newer code "
                          f"migrated it?); the code expects {expected}")
    behind = _revisions_between(script, heads, current)
    raise CheckFailed(f"the database is at revision {at}, {behind} migration(s) behind the code's {expected}; "
                      "run `relay db upgrade`")


def redis_check(app: Flask) -> str:
    readiness_redis(app).ping()
    return f"reachable: {describe_redis(app.config['REDIS_URL'])}"


def scheduler_check(app: Flask) -> str:
    beat = read_heartbeat(readiness_redis(app), heartbeat_key(app.config["RELAY_QUEUE"]))
    if beat is None:
        raise CheckFailed("no scheduler is leading: no leader heartbeat in Redis; start `relay scheduler`")
    age = datetime.now(UTC) - beat.at
    limit = SCHEDULER_FRESH_TTLS * float(app.config["RELAY_LEADER_TTL"])
    if age.total_seconds() > limit:
        raise CheckFailed(f"the last leader heartbeat is {age.total_seconds():.0f}s old (fresh means under "
                          f"{limit:g}s); is `relay scheduler` running and reaching Redis?")
    return f"leader {beat.leader.split(':')[0]} beat {age.total_seconds():.1f}s ago"


def worker_check(app: Flask) -> str:
    client = readiness_redis(app)
    name = app.config["RELAY_QUEUE"]
    now = datetime.now(UTC)
    beats = [_aware(worker.last_heartbeat) for worker in Worker.all(queue=Queue(name, connection=client))]
    fresh = [beat for beat in beats if beat is not None and now - beat <= WORKER_FRESH]
    if not fresh:
        raise CheckFailed(f"no worker on queue {name!r} has sent a heartbeat in the last "
                          f"{WORKER_FRESH.total_seconds():.0f}s; start `relay worker`")
    return f"{len(fresh)} worker(s) on queue {name!r}, last heartbeat {(now - max(fresh)).total_seconds():.0f}s ago"


# Each group runs in order in its own thread; the rest of a group needs its first check (the store) to pass.
GROUPS: tuple[tuple[tuple[str, Check], ...], ...] = (
    (("database", database_check), ("migrations", migrations_check)),
    (("redis", redis_check), ("scheduler", scheduler_check), ("worker", worker_check)),
)
NAMES = tuple(name for group in GROUPS for name, _ in group)


def run_checks(app: Flask, deadline: float = DEADLINE) -> list[CheckResult]:
    """Every readiness check, in ``NAMES`` order, within ``deadline`` seconds however the stores behave."""
    results: dict[str, CheckResult] = {}
    threads = [threading.Thread(target=_run_group, args=(app, group, results), daemon=True,
                                name=f"ready-{group[0][0]}") for group in GROUPS]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, started + deadline - time.monotonic()))
    took = round((time.monotonic() - started) * 1000)
    return [results.get(name) or CheckResult(name, False, f"no answer within {deadline:g}s", took)
            for name in NAMES]


def _run_group(app: Flask, group: tuple[tuple[str, Check], ...], results: dict[str, CheckResult]) -> None:
    (first_name, first), *rest = group
    results[first_name] = run_check(app, first_name, first)
    for name, check in rest:
        if results[first_name].ok:
            results[name] = run_check(app, name, check)
        else:
            results[name] = CheckResult(name, False, f"not checked: {first_name} is failing", 0)


def run_check(app: Flask, name: str, check: Check) -> CheckResult:
    """Run one check; any error becomes a failed result whose detail has no password in it."""
    started = time.monotonic()
    try:
        ok, detail = True, check(app)
    except CheckFailed as exc:
        ok, detail = False, str(exc)
    except Exception as exc:  # noqa: BLE001 - whatever a store raises is the check's answer
        ok, detail = False, f"{type(exc).__name__}: {_first_line(exc)}"
    return CheckResult(name, ok, scrub(app, detail), round((time.monotonic() - started) * 1000))


def readiness_engine(app: Flask) -> sa.Engine:
    """An engine of its own with short timeouts and no pool, so a probe never waits for the app's pool."""
    engine = app.extensions.get(ENGINE_KEY)
    if engine is None:
        url = app.config["SQLALCHEMY_DATABASE_URI"]
        if url.startswith("sqlite"):
            connect_args: dict[str, Any] = {"timeout": DATABASE_TIMEOUT_MS / 1000}
        else:
            connect_args = {"connect_timeout": 2, "options": f"-c statement_timeout={DATABASE_TIMEOUT_MS}"}
        engine = sa.create_engine(url, poolclass=NullPool, connect_args=connect_args)
        app.extensions[ENGINE_KEY] = engine
    return engine


def readiness_redis(app: Flask) -> redis.Redis:
    client = app.extensions.get(REDIS_KEY)
    if client is None:
        client = redis.Redis.from_url(app.config["REDIS_URL"], socket_connect_timeout=REDIS_TIMEOUT,
                                      socket_timeout=REDIS_TIMEOUT)
        app.extensions[REDIS_KEY] = client
    return client


def describe_database(url: str) -> str:
    """``postgresql at db.internal:5432/relay`` or ``sqlite relay.db``: where, without credentials."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"sqlite {Path(parsed.database or ':memory:').name}"
    return f"{parsed.get_backend_name()} at {parsed.host}:{parsed.port or 5432}/{parsed.database}"


def describe_redis(url: str) -> str:
    parsed = urlsplit(url)
    if parsed.scheme == "unix":
        return f"unix socket {Path(parsed.path).name}"
    return f"{parsed.hostname}:{parsed.port or 6379}{parsed.path or ''}"


def scrub(app: Flask, text: str) -> str:
    """``text`` without the database's or Redis's password, should a driver's message ever include it."""
    secrets = {sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"]).password, urlsplit(app.config["REDIS_URL"]).password}
    for secret in secrets:
        if secret:
            text = text.replace(str(secret), "***")
    return text


@cache
def _script_directory(directory: str) -> ScriptDirectory:
    # The code's migrations do not change while a process runs; reading them once keeps probes cheap.
    return ScriptDirectory(directory)


def _revisions_between(script: ScriptDirectory, heads: set[str], current: set[str]) -> int:
    ahead = {r.revision for r in script.iterate_revisions(tuple(heads), tuple(current))}
    return len(ahead - current)


def _aware(moment: datetime | None) -> datetime | None:
    # RQ stores heartbeats as naive UTC.
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [""])[0]
