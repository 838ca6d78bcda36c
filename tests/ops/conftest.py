"""Fixtures for the operations tests (readiness, doctor, metrics, logs): databases built by the real
migrations, as an operator's are, rather than by ``create_all``; the metrics, logs and Sentry tests use the
engine tests' workflows, published straight into the test app's database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

# The engine tests' workflows built in-process, for the metrics, logs and Sentry tests.
from tests.engine.conftest import ctx, ledger, publish, start, workspace  # noqa: F401
from tests.integration.conftest import clean_env, relay_up, run_relay  # noqa: F401 - relay_up: a fixture


def upgrade(database_url: str, redis_url: str) -> None:
    result = run_relay("db", "upgrade", env=clean_env(DATABASE_URL=database_url, REDIS_URL=redis_url))
    assert result.returncode == 0, result.stderr


@pytest.fixture
def migrated_database_url(tmp_path: Path, redis_url: str) -> Iterator[str]:
    """A database of this test's own at the newest migration: a SQLite file, or on the PostgreSQL pass a
    fresh database on the same server as DATABASE_URL, dropped afterwards."""
    postgres = os.environ.get("DATABASE_URL", "")
    if not postgres.startswith("postgres"):
        url = f"sqlite:///{tmp_path / 'migrated.db'}"
        upgrade(url, redis_url)
        yield url
        return
    server = sa.make_url(postgres)
    name = f"{server.database}_{uuid.uuid4().hex[:10]}"
    admin = server.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url, redis_url)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

