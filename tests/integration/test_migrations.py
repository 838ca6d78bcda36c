"""`relay db upgrade` builds the whole schema on SQLite and PostgreSQL, and the migrations match the
models exactly (a model changed without a migration fails here)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from automation.models import db

pytestmark = pytest.mark.storage
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def upgrade(database_url: str, redis_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url}
    return subprocess.run([sys.executable, "-m", "automation.cli", "db", "upgrade"], env=env,
                          capture_output=True, text=True, timeout=120)


def differences(database_url: str) -> list[object]:
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as connection:
            return compare_metadata(MigrationContext.configure(connection), db.metadata)
    finally:
        engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'fresh.db'}"


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    if not os.environ.get("DATABASE_URL", "").startswith("postgresql"):
        pytest.skip("the PostgreSQL pass of CI sets DATABASE_URL")
    name = f"relay_migrations_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_upgrade_creates_every_table_on_sqlite(sqlite_url, redis_url):
    result = upgrade(sqlite_url, redis_url)
    assert result.returncode == 0, result.stderr
    tables = set(sa.inspect(sa.create_engine(sqlite_url)).get_table_names())
    assert set(db.metadata.tables) <= tables


def test_migrations_match_the_models_on_sqlite(sqlite_url, redis_url):
    assert upgrade(sqlite_url, redis_url).returncode == 0
    assert differences(sqlite_url) == []


def test_migrations_match_the_models_on_postgresql(fresh_postgres, redis_url):
    result = upgrade(fresh_postgres, redis_url)
    assert result.returncode == 0, result.stderr
    assert differences(fresh_postgres) == []


def test_upgrade_twice_is_harmless(sqlite_url, redis_url):
    assert upgrade(sqlite_url, redis_url).returncode == 0
    second = upgrade(sqlite_url, redis_url)
    assert second.returncode == 0
    assert "up to date" in second.stdout
