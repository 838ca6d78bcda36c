"""On SQLite, new database files are in incremental auto-vacuum mode, so retention gives the space of the
runs it removed back to the file system: the file shrinks. A file made in another mode keeps its size and
retention says how to convert it (one VACUUM)."""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from automation import retention
from automation.models import db
from tests.retention.conftest import OLD

INCREMENTAL = 2
RUNS = 300
OUTPUT = "x" * 8000  # a step output of 8 KB: 300 runs fill a few MB


@pytest.fixture
def sqlite_file(ctx: Flask) -> Path:
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's file size: the PostgreSQL pass has no file to measure")
    return Path(str(db.engine.url.database))


def size_on_disk(path: Path) -> int:
    """The database file with its write-ahead log, after moving the log into the file."""
    with db.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").all()
    wal = Path(f"{path}-wal")
    return os.path.getsize(path) + (os.path.getsize(wal) if wal.exists() else 0)


def test_a_new_database_file_is_in_incremental_auto_vacuum_mode(sqlite_file):
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA auto_vacuum").scalar() == INCREMENTAL


def test_removing_many_runs_shrinks_the_file(sqlite_file, make_workflow, make_run):
    workflow = make_workflow()
    for _ in range(RUNS):
        make_run(workflow, "succeeded", OLD, output=OUTPUT)
    before = size_on_disk(sqlite_file)

    report = retention.run()

    after = size_on_disk(sqlite_file)
    assert report.executions == RUNS
    assert before > RUNS * len(OUTPUT)
    assert after < before / 4


def test_a_file_made_without_incremental_auto_vacuum_keeps_its_size_and_says_how_to_convert_it(
        app_on_old_file, make_workflow, make_run, caplog):
    workflow = make_workflow()
    for _ in range(50):
        make_run(workflow, "succeeded", OLD, output=OUTPUT)
    path = Path(str(db.engine.url.database))
    assert path.name == "old.db"
    before = size_on_disk(path)

    with caplog.at_level(logging.WARNING, logger="automation.retention"):
        assert retention.run().executions == 50

    assert size_on_disk(path) == before
    assert any("run VACUUM once" in record.getMessage() for record in caplog.records)


@pytest.fixture
def app_on_old_file(sqlite_file: Path, settings: dict[str, object], tmp_path: Path):
    """Instead of the test's database, a file whose first table was made before Relay set its mode."""
    from app import create_app  # noqa: PLC0415 - a second app of the test's own

    old_file = tmp_path / "old.db"
    with sqlite3.connect(old_file) as connection:
        connection.execute("CREATE TABLE made_elsewhere (id INTEGER)")
    old_app = create_app({**settings, "DATABASE_URL": f"sqlite:///{old_file}"})
    with old_app.app_context():
        db.create_all()
        assert db.session.scalar(sa.text("PRAGMA auto_vacuum")) == 0
        yield old_app
        db.session.remove()
        db.engine.dispose()
