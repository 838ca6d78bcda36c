"""On PostgreSQL the audit trail and the run history are append-only: UPDATE and DELETE from SQL fail with a
clear message, and only the purge functions remove rows (old audit entries; whole runs with their history)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from automation import audit
from automation.accounts import default_workspace
from automation.engine import run_execution
from automation.ingest import start_execution
from automation.models import AuditLog, Execution, ExecutionEvent, db, utcnow
from automation.models.append_only import purge_before, purge_executions
from automation.workflows import create_workflow, delete_workflow, publish
from tests.audit.conftest import MANUAL

pytestmark = pytest.mark.storage


@pytest.fixture
def postgresql(ctx: Flask) -> Iterator[None]:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the append-only triggers exist on PostgreSQL only (run with DATABASE_URL=postgresql://...)")
    yield
    db.session.rollback()


@pytest.fixture
def run_id(owner, postgresql) -> int:
    """A finished run of a published workflow, with its status history (and the workflow's audit entries)."""
    workspace = default_workspace(create=False)
    workflow = publish(create_workflow(workspace.id, "Leads", MANUAL))
    execution, _ = start_execution(workflow, trigger_kind="manual", payload={"body": {}})
    run_execution(execution.id)
    return execution.id


def count(model: type) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def test_updating_an_audit_entry_from_sql_fails(run_id):
    with pytest.raises(sa.exc.DBAPIError, match="audit_log is append-only: UPDATE refused"):
        db.session.execute(sa.text("UPDATE audit_log SET actor = 'someone else'"))


def test_deleting_an_audit_entry_from_sql_fails(run_id):
    with pytest.raises(sa.exc.DBAPIError, match="audit_log is append-only: DELETE refused"):
        db.session.execute(sa.text("DELETE FROM audit_log"))


def test_deleting_execution_events_from_sql_fails(run_id):
    with pytest.raises(sa.exc.DBAPIError, match="execution_events is append-only: DELETE refused"):
        db.session.execute(sa.text("DELETE FROM execution_events"))


def test_updating_execution_events_from_sql_fails(run_id):
    with pytest.raises(sa.exc.DBAPIError, match="execution_events is append-only: UPDATE refused"):
        db.session.execute(sa.text("UPDATE execution_events SET reason = 'rewritten'"))


def test_deleting_a_run_from_sql_fails_because_its_history_would_go_with_it(run_id):
    with pytest.raises(sa.exc.DBAPIError, match="execution_events is append-only"):
        db.session.execute(sa.text("DELETE FROM executions WHERE id = :id"), {"id": run_id})


def test_purge_before_deletes_only_the_entries_older_than_the_cutoff(run_id):
    workspace = default_workspace(create=False)
    old = audit.record(workspace.id, "workflow.update", "workflow", 1, actor=None)
    old.at = utcnow() - timedelta(days=400)
    db.session.commit()
    old_id, recent = old.id, count(AuditLog) - 1

    assert purge_before(utcnow() - timedelta(days=365)) == 1
    db.session.commit()

    assert count(AuditLog) == recent
    assert db.session.get(AuditLog, old_id) is None


def test_a_plain_delete_is_still_refused_after_a_purge_in_the_same_transaction(run_id):
    purge_before(utcnow() - timedelta(days=365))
    with pytest.raises(sa.exc.DBAPIError, match="audit_log is append-only"):
        db.session.execute(sa.text("DELETE FROM audit_log"))


def test_purging_runs_deletes_them_with_their_history(run_id):
    assert count(ExecutionEvent) > 0
    assert purge_executions([run_id]) == 1
    db.session.commit()
    assert (count(Execution), count(ExecutionEvent)) == (0, 0)


def test_deleting_a_workflow_with_runs_works_and_keeps_its_audit_entries(run_id):
    entries = count(AuditLog)
    workflow = db.session.get(Execution, run_id).version.workflow
    workflow_id = workflow.id
    delete_workflow(workflow)
    assert (count(Execution), count(ExecutionEvent)) == (0, 0)
    assert count(AuditLog) == entries + 1
    assert db.session.scalar(sa.select(AuditLog.target_id).order_by(AuditLog.id.desc()).limit(1)) == str(workflow_id)
