"""`relay db upgrade` builds the whole schema on SQLite and PostgreSQL, the migrations match the models
exactly (a model changed without a migration fails here), and `relay db downgrade base` undoes them."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from automation.config import database_url
from automation.models import db
from tests.integration.conftest import clean_env, run_relay

pytestmark = pytest.mark.storage
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
EVERY_TABLE = set(db.metadata.tables) | {"alembic_version"}


def relay_db(command: str, url: str, redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_relay("db", command, *args, env=clean_env(DATABASE_URL=url, REDIS_URL=redis_url))


def inspect(url: str) -> tuple[set[str], list[object]]:
    """The tables the database has, and how its schema differs from the models."""
    engine = sa.create_engine(database_url(url))
    try:
        with engine.connect() as connection:
            tables = set(sa.inspect(connection).get_table_names())
            return tables, compare_metadata(MigrationContext.configure(connection), db.metadata)
    finally:
        engine.dispose()


@pytest.fixture
def fresh_sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'fresh.db'}"


@pytest.fixture
def fresh_postgresql() -> Iterator[str]:
    """An empty database of this test's own on the machine's PostgreSQL, dropped afterwards."""
    if not os.environ.get("DATABASE_URL", "").startswith("postgresql"):
        pytest.skip("runs in the PostgreSQL pass of .ci/run (DATABASE_URL=postgresql://...)")
    name = f"relay_migrations_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=10) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=10) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_database(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(f"fresh_{request.param}")


def test_upgrade_creates_every_table_and_matches_the_models(fresh_database, redis_url):
    result = relay_db("upgrade", fresh_database, redis_url)
    assert result.returncode == 0, result.stderr
    tables, differences = inspect(fresh_database)
    assert tables == EVERY_TABLE
    # Non-empty means a model changed without a migration: `flask --app app db migrate -m "..."`.
    assert differences == []


def test_downgrade_to_base_removes_every_table_and_upgrade_rebuilds_them(fresh_database, redis_url):
    assert relay_db("upgrade", fresh_database, redis_url).returncode == 0
    down = relay_db("downgrade", fresh_database, redis_url, "base")
    assert down.returncode == 0, down.stderr
    assert inspect(fresh_database)[0] <= {"alembic_version"}

    again = relay_db("upgrade", fresh_database, redis_url)
    assert again.returncode == 0, again.stderr
    assert inspect(fresh_database) == (EVERY_TABLE, [])


def test_upgrade_twice_is_harmless(fresh_sqlite, redis_url):
    assert relay_db("upgrade", fresh_sqlite, redis_url).returncode == 0
    second = relay_db("upgrade", fresh_sqlite, redis_url)
    assert second.returncode == 0, second.stderr
    assert "up to date" in second.stdout
