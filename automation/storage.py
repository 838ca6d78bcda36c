"""Database engine settings: SQLite shared by several processes (WAL, busy timeout, incremental
auto-vacuum) and fork safety."""

from __future__ import annotations

import os
import sqlite3
import weakref
from typing import Any

import sqlalchemy as sa
from flask import Flask

from automation.models import db

SQLITE_BUSY_TIMEOUT_MS = 15000

_engines: weakref.WeakSet[sa.Engine] = weakref.WeakSet()


def _dispose_inherited_pools() -> None:
    # A connection inherited across fork is shared with the parent; close=False drops the child's
    # references without closing the parent's sockets (SQLAlchemy's documented recipe).
    for engine in list(_engines):
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_dispose_inherited_pools)


def engine_options(database_url: str) -> dict[str, Any]:
    if database_url.startswith("sqlite"):
        return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}}
    return {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 10}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    # Takes effect only in a file that has no table yet, so it comes first; it lets retention's
    # `PRAGMA incremental_vacuum` give freed pages back (automation/retention.py). A file created in
    # another mode keeps it until one VACUUM (docs/operations.md).
    cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
    # WAL lets readers proceed while one process writes; the busy timeout makes writers queue, not fail.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def init_storage(app: Flask) -> None:
    """Attach SQLite pragmas and make forked children (RQ work horses, gunicorn) open their own pool."""
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            sa.event.listen(engine, "connect", _sqlite_pragmas)
        _engines.add(engine)
