"""A hand-computed set of runs and approval tasks for the analytics tests (API and page), and the figures
they must produce. Window: 2025-03-01 .. 2025-03-07. Every expected number is worked out in EXPECTED's
comments, so a reader can check the arithmetic without running anything.

Invoices (10 timed runs, durations 1.5 s × i for i = 1..10, i.e. 1.5, 3, ..., 15):
  started 13 (10 timed + 1 cancelled + 1 running + 1 queued), succeeded 7, failed 3 (i = 4, 7, 9)
  failure rate 3 / 10 = 30.0 %; median: rank ceil(0.5·10) = 5 → 7.5 s; p95: rank ceil(0.95·10) = 10 → 15 s
Refunds (durations 60 s succeeded, 120.5 s succeeded, 30 s failed):
  sorted 30, 60, 120.5 → median rank ceil(1.5) = 2 → 60 s; p95 rank ceil(2.85) = 3 → 120.5 s
All: 13 timed durations 1.5 … 15, 30, 60, 120.5 → median rank ceil(6.5) = 7 → 10.5 s; p95 rank 13 → 120.5 s
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from automation import workflows
from automation.models import ApprovalTask, Execution, Workspace, db, utcnow

FIRST, LAST = date(2025, 3, 1), date(2025, 3, 7)
FAILED_RUNS = {4, 7, 9}


def at(day: int, hour: int = 0, minute: int = 0, second: float = 0) -> datetime:
    return datetime(2025, 3, 1, tzinfo=UTC) + timedelta(days=day - 1, hours=hour, minutes=minute, seconds=second)


EXPECTED: dict[str, Any] = {
    "Invoices": {
        "runs": {"started": 13, "succeeded": 7, "failed": 3, "failure_rate": 30.0},
        "duration_seconds": {"median": 7.5, "p95": 15.0},
        # a1: created 5th 00:00, due 02:00, decided 02:00 exactly (on time) → 1 of 1 within, 7200 s
        "approvals": {"decided": 1, "decided_with_sla": 1, "within_sla": 1, "within_sla_percent": 100.0,
                      "average_seconds": 7200.0, "escalations": 0,
                      "pending": {"overdue": 0, "due_soon": 0, "normal": 1}},
    },
    "Refunds": {
        "runs": {"started": 3, "succeeded": 2, "failed": 1, "failure_rate": 33.3},
        "duration_seconds": {"median": 60.0, "p95": 120.5},
        # r1 6 h on time, r2 24 h late (escalated), r3 0.5 h without SLA → 1 of 2 within; (6+24+0.5)/3 h = 36600 s
        "approvals": {"decided": 3, "decided_with_sla": 2, "within_sla": 1, "within_sla_percent": 50.0,
                      "average_seconds": 36600.0, "escalations": 2,
                      "pending": {"overdue": 1, "due_soon": 1, "normal": 1}},
    },
    "totals": {
        "runs": {"started": 16, "succeeded": 9, "failed": 4, "failure_rate": 30.8},  # 4 / 13
        "duration_seconds": {"median": 10.5, "p95": 120.5},
        # 2 of 3 with SLA on time; (30.5 h + 2 h) / 4 = 8.125 h = 29250 s
        "approvals": {"decided": 4, "decided_with_sla": 3, "within_sla": 2, "within_sla_percent": 66.7,
                      "average_seconds": 29250.0, "escalations": 2,
                      "pending": {"overdue": 1, "due_soon": 1, "normal": 2}},
    },
}
# Runs per day (by creation): i = 1..5 on the 1st, 6..10 on the 2nd, the three untimed on the 3rd, Refunds on the 4th.
RUNS_PER_DAY = {
    "2025-03-01": {"succeeded": 4, "failed": 1},
    "2025-03-02": {"succeeded": 3, "failed": 2},
    "2025-03-03": {"cancelled": 1, "running": 1, "queued": 1},
    "2025-03-04": {"succeeded": 2, "failed": 1},
}
# 1st: 1.5, 3, 4.5, 6, 7.5 → ranks 3 and 5; 2nd: 9 … 15 → 12 and 15; 4th: Refunds' 60 and 120.5.
DURATION_PER_DAY = {"2025-03-01": (4.5, 7.5), "2025-03-02": (12.0, 15.0), "2025-03-04": (60.0, 120.5)}


def build(workspace_id: int, other_workspace_id: int | None = None) -> dict[str, int]:
    """Insert the runs and tasks; the workflows' ids by name (plus ``Theirs`` in the other workspace)."""
    ids: dict[str, int] = {}
    invoices = _workflow(workspace_id, "Invoices", ids)
    refunds = _workflow(workspace_id, "Refunds", ids)
    for i in range(1, 11):
        created = at(1 if i <= 5 else 2, 12, i)
        _run(invoices, "failed" if i in FAILED_RUNS else "succeeded", created, 1.5 * i)
    _run(invoices, "cancelled", at(3, 9), 100)
    _run(invoices, "running", at(3, 10))
    _run(invoices, "queued", at(3, 11), started=False)
    _run(invoices, "failed", at(1) - timedelta(seconds=1), 5)  # before the window
    _run(invoices, "succeeded", at(8), 5)  # the first moment after it
    one, two, three = (_run(refunds, status, at(4, 8 + n), seconds)
                       for n, (status, seconds) in enumerate((("succeeded", 60), ("succeeded", 120.5), ("failed", 30))))
    now = utcnow()
    _task(refunds, one, "r1", at(2, 10), due=at(3, 10), decided=at(2, 16))
    _task(refunds, one, "r2", at(3, 9), due=at(3, 21), decided=at(4, 9), status="rejected", escalated=at(3, 22))
    _task(refunds, one, "r3", at(4, 8), decided=at(4, 8, 30))
    _task(refunds, two, "p1", at(5), due=now - timedelta(hours=1), escalated=at(5, 6), status="pending")
    _task(refunds, two, "p2", at(5), due=now + timedelta(hours=1), status="pending", due_soon=now - timedelta(hours=1))
    _task(refunds, two, "p3", at(5), due=now + timedelta(hours=10), status="pending",
          due_soon=now + timedelta(hours=8))
    _task(refunds, three, "c1", at(5), due=at(5, 1), status="cancelled")
    _task(refunds, three, "old", at(1) - timedelta(days=3), decided=at(1) - timedelta(days=2),
          escalated=at(1) - timedelta(days=2))
    first_invoice = db.session.scalars(sa.select(Execution.id).where(Execution.workflow_id == invoices.id)
                                         .order_by(Execution.id)).first()
    assert first_invoice is not None
    _task(invoices, first_invoice, "a1", at(5), due=at(5, 2), decided=at(5, 2))
    _task(invoices, first_invoice, "a2", at(5, 3), status="pending")
    if other_workspace_id is not None:
        theirs = _workflow(other_workspace_id, "Theirs", ids)
        _run(theirs, "failed", at(2), 3)
    db.session.commit()
    return ids


def _workflow(workspace_id: int, name: str, ids: dict[str, int]) -> Any:
    definition = {"trigger": {"type": "manual"}, "steps": [{"id": "a", "uses": "core.set", "with": {"x": 1}}]}
    workflow = workflows.create_workflow(workspace_id, name, definition)
    ids[name] = workflow.id
    return workflow


def _run(workflow: Any, status: str, created: datetime, seconds: float | None = None, started: bool = True) -> int:
    start = created + timedelta(seconds=1) if started else None
    execution = Execution(
        workspace_id=workflow.workspace_id, workflow_id=workflow.id, version_id=workflow.versions[-1].id,
        status=status, trigger_kind="manual", correlation_id=f"c-{created.isoformat()}-{status}",
        created_at=created, started_at=start,
        finished_at=start + timedelta(seconds=seconds) if start is not None and seconds is not None else None,
    )
    db.session.add(execution)
    db.session.flush()
    return execution.id


def _task(workflow: Any, execution_id: int, step: str, created: datetime, *, due: datetime | None = None,
          decided: datetime | None = None, status: str = "approved", escalated: datetime | None = None,
          due_soon: datetime | None = None) -> None:
    db.session.add(ApprovalTask(
        workspace_id=workflow.workspace_id, execution_id=execution_id, step_id=step, assignee_role="approver",
        title=f"Task {step}", status=status, created_at=created, due_at=due, decided_at=decided,
        escalated_at=escalated, due_soon_at=due_soon if due_soon is not None else (
            due - (due - created) / 5 if due is not None else None),
    ))


def other_workspace() -> int:
    workspace = Workspace(name="Other")
    db.session.add(workspace)
    db.session.commit()
    return workspace.id
