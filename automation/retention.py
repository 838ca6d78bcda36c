"""Retention: deleting what is older than Relay keeps it, in short transactions.

- Finished runs (succeeded, failed, cancelled) whose ``finished_at`` is older than their workflow's
  ``retention_days``, or ``RELAY_RETENTION_DAYS`` when the workflow has none, go with their step runs,
  status history and approval tasks, through append_only.purge_executions (the status history is
  append-only on PostgreSQL). Queued, running and waiting runs stay, however old.
- Schedule fire history by the same days (a fire still pending is in progress and stays).
- Audit entries older than ``RELAY_AUDIT_RETENTION_DAYS`` (append_only.purge_before).

Runs and fires go ``BATCH_SIZE`` ids per transaction, walking forward by primary key, so no lock is held
for long and the web and the workers keep writing meanwhile. On SQLite the freed pages are then given back
to the file system with ``PRAGMA incremental_vacuum`` (automation/storage.py creates new files in that
mode). The scheduler's leader runs this every ``INTERVAL``; ``relay retention run`` runs it from the shell.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from automation import audit
from automation.models import AuditLog, Execution, FireStatus, ScheduleFire, Workflow, db, utcnow
from automation.models.append_only import purge_before, purge_executions
from automation.models.executions import FINISHED

log = logging.getLogger(__name__)

BATCH_SIZE = 500
INTERVAL = timedelta(days=1)
MAX_DAYS = 36500
FINISHED_STATUSES = sorted(status.value for status in FINISHED)
SQLITE_INCREMENTAL = 2  # PRAGMA auto_vacuum's answer for INCREMENTAL


@dataclass(frozen=True)
class RetentionReport:
    executions: int
    schedule_fires: int
    audit_entries: int
    run_batches: int = 0
    dry_run: bool = False

    def describe(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        batches = "" if self.dry_run else f" in {self.run_batches} batch{'es' if self.run_batches != 1 else ''}"
        return (f"{verb} {self.executions} finished run(s) with their steps, history and approval tasks{batches}, "
                f"{self.schedule_fires} schedule fire(s) and {self.audit_entries} audit entr"
                f"{'y' if self.audit_entries == 1 else 'ies'}")


def run(now: datetime | None = None, *, dry_run: bool = False, batch_size: int = BATCH_SIZE) -> RetentionReport:
    """Delete (or with ``dry_run`` only count) everything past its retention at ``now``. Commits per batch."""
    now = now or utcnow()
    default_days = int(current_app.config["RELAY_RETENTION_DAYS"])
    runs = (sa.select(Execution.id).join(Workflow, Workflow.id == Execution.workflow_id)
            .where(Execution.status.in_(FINISHED_STATUSES), _past_retention(Execution.finished_at, now, default_days)))
    fires = (sa.select(ScheduleFire.id).join(Workflow, Workflow.id == ScheduleFire.workflow_id)
             .where(ScheduleFire.status != FireStatus.PENDING.value,
                    _past_retention(ScheduleFire.fired_at, now, default_days)))
    audit_cutoff = now - timedelta(days=int(current_app.config["RELAY_AUDIT_RETENTION_DAYS"]))
    if dry_run:
        entries = sa.select(AuditLog.id).where(AuditLog.at < audit_cutoff)
        return RetentionReport(_count(runs), _count(fires), _count(entries), dry_run=True)
    executions, run_batches = _in_batches(runs, Execution.id, purge_executions, batch_size)
    schedule_fires, _ = _in_batches(fires, ScheduleFire.id, _delete_fires, batch_size)
    audit_entries = purge_before(audit_cutoff)
    db.session.commit()
    report = RetentionReport(executions, schedule_fires, audit_entries, run_batches)
    if executions or schedule_fires or audit_entries:
        log.info("retention: %s", report.describe())
        _give_back_space()
    return report


def keep_runs_for(workflow: Workflow, days: int | None, *, actor_id: int | None) -> None:
    """Set how many days the workflow's finished runs are kept (None: ``RELAY_RETENTION_DAYS``), with its
    audit entry (``workflow.update``). The caller commits, with whatever else it changes.

    Raises:
        ValueError: ``days`` is outside 1..MAX_DAYS.
    """
    if days is not None and not 1 <= days <= MAX_DAYS:
        raise ValueError(f"between 1 and {MAX_DAYS} days, or null for the default")
    if days == workflow.retention_days:
        return
    audit.record(workflow.workspace_id, "workflow.update", "workflow", workflow.id, actor=audit.user(actor_id),
                 before={"retention_days": workflow.retention_days}, after={"retention_days": days})
    workflow.retention_days = days


def _past_retention(moment: sa.ColumnElement[datetime], now: datetime, default_days: int) -> sa.ColumnElement[bool]:
    """``moment`` is older than its workflow keeps it: one condition per distinct retention in use, which
    says the same on every database without date arithmetic in SQL."""
    overrides = db.session.scalars(
        sa.select(Workflow.retention_days).where(Workflow.retention_days.is_not(None)).distinct()
    ).all()
    kept = [sa.and_(Workflow.retention_days.is_(None), moment < now - timedelta(days=default_days))]
    kept += [sa.and_(Workflow.retention_days == days, moment < now - timedelta(days=days)) for days in overrides]
    return sa.or_(*kept)


def _count(query: sa.Select[tuple[int]]) -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0)


def _in_batches(query: sa.Select[tuple[int]], key: sa.ColumnElement[int], delete: Callable[[Sequence[int]], int],
                batch_size: int) -> tuple[int, int]:
    """Delete what ``query`` selects, ``batch_size`` ids per transaction; how many, in how many batches."""
    removed = batches = 0
    after = 0
    while True:
        ids = db.session.scalars(query.where(key > after).order_by(key).limit(batch_size)).all()
        if not ids:
            return removed, batches
        removed += delete(ids)
        db.session.commit()
        batches += 1
        after = ids[-1]
        if len(ids) < batch_size:
            return removed, batches


def _delete_fires(ids: Sequence[int]) -> int:
    return db.session.execute(
        sa.delete(ScheduleFire).where(ScheduleFire.id.in_(ids)).execution_options(synchronize_session=False)
    ).rowcount


def _give_back_space() -> None:
    """On SQLite, shrink the file by the pages just freed (and empty the WAL), when the file allows it."""
    if db.engine.dialect.name != "sqlite":
        return
    with db.engine.connect() as connection:
        if connection.exec_driver_sql("PRAGMA auto_vacuum").scalar() != SQLITE_INCREMENTAL:
            log.warning("retention: the SQLite file was created without incremental auto-vacuum, so it does not "
                        "shrink; run VACUUM once to convert it (docs/operations.md)")
            return
        # executescript steps the pragma to the end; execute() would free a single page.
        connection.connection.dbapi_connection.executescript(  # type: ignore[union-attr]
            "PRAGMA incremental_vacuum; PRAGMA wal_checkpoint(TRUNCATE);")
