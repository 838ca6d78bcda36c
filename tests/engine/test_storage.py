"""Storage set-up for several processes: SQLite in WAL mode with a busy timeout, UTC datetimes on every
backend, and a forked child that never reuses its parent's database connections."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from automation.models import Workspace, db

pytestmark = pytest.mark.storage


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(ctx):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_datetimes_come_back_aware_and_in_utc(ctx):
    berlin = timezone(timedelta(hours=1))
    workspace = Workspace(name="tz", created_at=datetime(2026, 3, 1, 12, 0, tzinfo=berlin))
    db.session.add(workspace)
    db.session.commit()
    db.session.expire_all()

    stored = db.session.get(Workspace, workspace.id).created_at
    assert stored == datetime(2026, 3, 1, 11, 0, tzinfo=UTC)
    assert stored.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused(ctx):
    db.session.add(Workspace(name="naive", created_at=datetime(2026, 3, 1, 12, 0)))
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        db.session.commit()
    db.session.rollback()


def test_forked_child_starts_with_an_empty_connection_pool(ctx):
    with db.engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")
    assert db.engine.pool.checkedin() >= 1
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it inherited, then use the database for real
        try:
            inherited = db.engine.pool.checkedin()
            with db.engine.connect() as connection:
                answer = connection.exec_driver_sql("SELECT 41 + 1").scalar()
            os.write(write, f"{inherited},{answer}".encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    inherited, answer = os.read(read, 100).decode().split(",")
    assert (inherited, answer) == ("0", "42")
    with db.engine.connect() as connection:  # the parent's connections still work
        assert connection.exec_driver_sql("SELECT 1").scalar() == 1
