"""The append-only guarantee of ``audit_log`` and ``execution_events``, and the one way around it.

On PostgreSQL a row trigger on both tables refuses every UPDATE and every DELETE with a message naming the
table ("audit_log is append-only: UPDATE refused"), whoever sends it: application code, a migration or a
person at a SQL prompt. Two SQL functions are the only exception, and the Python wrappers below are how
Relay calls them; they set a transaction-local flag (``relay.purging``) the trigger honours for DELETE only,
and clear it again before returning. UPDATE is never allowed.

- ``relay_purge_before(cutoff timestamptz)`` deletes audit entries recorded before ``cutoff``: retention.
- ``relay_purge_executions(ids bigint[])`` deletes those executions with everything that cascades from them,
  their status history included. A run's history lives exactly as long as the run: retention of old runs
  and deleting a workflow (automation/workflows.py: the workflow's runs go through here first, with the
  workflow row locked so no run starts in between) both use it.

TRUNCATE is not a row change and stays allowed (the test suite empties tables with it); it needs the
table owner's privilege anyway. The trigger and functions are created by the migration
``a3d5f7b9c1e2_append_only_audit`` and, for ``db.create_all()``, by the DDL attached to the tables here.
SQLite has no such guard: there the wrappers delete directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import sqlalchemy as sa

from automation.models.approvals import AuditLog
from automation.models.base import db
from automation.models.executions import Execution, ExecutionEvent

APPEND_ONLY_TABLES = ("audit_log", "execution_events")

# No '%' and no ':' in these statements: DDL() formats with '%', and text() (the migration) binds ':name'.
REFUSE_CHANGE = """
CREATE OR REPLACE FUNCTION relay_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('relay.purging', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION USING
        MESSAGE = TG_TABLE_NAME || ' is append-only: ' || TG_OP || ' refused',
        HINT = 'old rows are removed only by relay_purge_before(cutoff) or relay_purge_executions(ids)',
        ERRCODE = 'insufficient_privilege';
END
$$
"""

PURGE_BEFORE = """
CREATE OR REPLACE FUNCTION relay_purge_before(cutoff timestamptz) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    removed bigint;
BEGIN
    PERFORM set_config('relay.purging', 'on', true);
    DELETE FROM audit_log WHERE at < cutoff;
    GET DIAGNOSTICS removed = ROW_COUNT;
    PERFORM set_config('relay.purging', 'off', true);
    RETURN removed;
END
$$
"""

PURGE_EXECUTIONS = """
CREATE OR REPLACE FUNCTION relay_purge_executions(ids bigint[]) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    removed bigint;
BEGIN
    PERFORM set_config('relay.purging', 'on', true);
    DELETE FROM executions WHERE id = ANY(ids);
    GET DIAGNOSTICS removed = ROW_COUNT;
    PERFORM set_config('relay.purging', 'off', true);
    RETURN removed;
END
$$
"""

FUNCTIONS = (REFUSE_CHANGE, PURGE_BEFORE, PURGE_EXECUTIONS)
DROP_FUNCTIONS = (
    "DROP FUNCTION IF EXISTS relay_purge_executions(bigint[])",
    "DROP FUNCTION IF EXISTS relay_purge_before(timestamptz)",
    "DROP FUNCTION IF EXISTS relay_refuse_change()",
)


def create_trigger(table: str) -> str:
    return (f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION relay_refuse_change()")


def drop_trigger(table: str) -> str:
    return f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"


def _attach(table: sa.Table) -> None:
    # The functions are (re)created with each table, so either table may be created first.
    for statement in (*FUNCTIONS, create_trigger(table.name)):
        sa.event.listen(table, "after_create", sa.DDL(statement).execute_if(dialect="postgresql"))


for _table in (AuditLog.__table__, ExecutionEvent.__table__):
    _attach(_table)  # type: ignore[arg-type]


def purge_before(cutoff: datetime) -> int:
    """Delete the audit entries recorded before ``cutoff`` (naive means UTC); how many. The caller commits."""
    if cutoff.tzinfo is None:
        cutoff = cutoff.replace(tzinfo=UTC)
    if _postgresql():
        return int(db.session.scalar(sa.text("SELECT relay_purge_before(:cutoff)"), {"cutoff": cutoff}) or 0)
    return db.session.execute(
        sa.delete(AuditLog).where(AuditLog.at < cutoff).execution_options(synchronize_session=False)
    ).rowcount


def purge_executions(ids: Iterable[int]) -> int:
    """Delete these executions with their steps, tasks and status history; how many. The caller commits."""
    wanted = sorted(set(ids))
    if not wanted:
        return 0
    if _postgresql():
        return int(db.session.scalar(sa.text("SELECT relay_purge_executions(CAST(:ids AS bigint[]))"),
                                     {"ids": wanted}) or 0)
    return db.session.execute(
        sa.delete(Execution).where(Execution.id.in_(wanted)).execution_options(synchronize_session=False)
    ).rowcount


def _postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"
