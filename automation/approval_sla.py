"""The approval pass the scheduler's leader runs every ``PASS_INTERVAL``: escalations, owed notices, reminders.

- Escalation: a pending task past its ``due_at`` with ``escalate_to`` and no ``escalated_at`` moves to
  ``escalate_to`` (compare-and-set on ``escalated_at`` and the assignee, so it happens once), with a run
  history entry "escalated to X after the SLA passed" and an audit row; the new assignee is then notified.
  It stays overdue: the SLA is not extended. An ``escalate_to`` that can no longer decide (deactivated,
  made a viewer) is recorded in the history and the task stays where it was.
- Notices owed since the last pass (a task opened, delegated or escalated): automation/approval_notify.py.
- Reminders: a pending task with ``remind_every`` and a notification connection whose last reminder (or,
  before the first, its creation) is at least that long ago gets another notice; ``last_reminded_at`` moves
  with a compare-and-set first, so of two racing passes only one sends.

Every part reads at most ``batch`` tasks per pass (the oldest first) and is idempotent: a pass repeated,
late, or run by two schedulers at once changes and sends nothing twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from automation import approval_notify, audit
from automation.approval_inbox import assignee_label
from automation.approvals import ApprovalInvalid, find_assignee
from automation.models import (
    ApprovalStatus,
    ApprovalTask,
    Execution,
    ExecutionEvent,
    db,
    utcnow,
)

log = logging.getLogger(__name__)

PASS_INTERVAL = 30.0
BATCH = 100
ACTOR = "relay (approval SLA)"


@dataclass(frozen=True)
class PassResult:
    escalated: int
    notified: int
    reminded: int


def run_pass(now: datetime | None = None, batch: int = BATCH) -> PassResult:
    now = now or utcnow()
    result = PassResult(escalated=escalate_due(now, batch), notified=approval_notify.deliver_owed(now, batch),
                        reminded=remind_due(now, batch))
    if result != PassResult(0, 0, 0):
        log.info("approval pass: %s escalated, %s notified, %s reminded", result.escalated, result.notified,
                 result.reminded)
    return result


def escalate_due(now: datetime, batch: int = BATCH) -> int:
    """Escalate pending tasks whose SLA passed; how many this pass escalated."""
    due = db.session.scalars(
        sa.select(ApprovalTask)
        .where(ApprovalTask.status == ApprovalStatus.PENDING.value, ApprovalTask.escalate_to.is_not(None),
               ApprovalTask.escalated_at.is_(None), ApprovalTask.due_at <= now)
        .order_by(ApprovalTask.due_at, ApprovalTask.id).limit(batch)
    ).all()
    return sum(_escalate(task, now) for task in due)


def _escalate(task: ApprovalTask, now: datetime) -> bool:
    assert task.escalate_to is not None
    before = {"status": task.status, "assignee": assignee_label(task)}
    values: dict[str, object] = {"escalated_at": now, "last_reminded_at": now}
    assignee = before["assignee"]
    try:
        target = find_assignee(task.workspace_id, task.escalate_to, "escalate_to")
    except ApprovalInvalid as exc:
        reason = f"not escalated to {task.escalate_to} after the SLA passed: {exc.problem}"
    else:
        assignee = str(target)
        reason = f"escalated to {assignee} after the SLA passed"
        values.update(assignee_user_id=target.user.id if target.user else None,
                      assignee_role=target.role.value if target.role else None,
                      notice_due="escalated" if task.notify_connection else None)
    moved = db.session.execute(
        sa.update(ApprovalTask)
        .where(ApprovalTask.id == task.id, ApprovalTask.status == ApprovalStatus.PENDING.value,
               ApprovalTask.escalated_at.is_(None),
               ApprovalTask.assignee_user_id.is_not_distinct_from(task.assignee_user_id),
               ApprovalTask.assignee_role.is_not_distinct_from(task.assignee_role))
        .values(**values).execution_options(synchronize_session=False)
    ).rowcount == 1
    if not moved:  # decided, delegated or escalated meanwhile: the next pass looks again if still due
        db.session.rollback()
        return False
    status = db.session.scalar(sa.select(Execution.status).where(Execution.id == task.execution_id))
    # Not a status change, but the run's history is where people look for what happened to it.
    db.session.add(ExecutionEvent(workspace_id=task.workspace_id, execution_id=task.execution_id,
                                  from_status=status, to_status=status, reason=reason, at=now))
    audit.record(task.workspace_id, "approval.escalate", "approval", task.id, actor=None, actor_label=ACTOR,
                 before=before, after={**before, "assignee": assignee})
    db.session.commit()
    return True


def remind_due(now: datetime, batch: int = BATCH) -> int:
    """Remind the assignees of pending tasks whose reminder interval passed; how many were reminded."""
    since = sa.func.coalesce(ApprovalTask.last_reminded_at, ApprovalTask.created_at)
    candidates = db.session.scalars(
        sa.select(ApprovalTask)
        .where(ApprovalTask.status == ApprovalStatus.PENDING.value, ApprovalTask.remind_every_seconds.is_not(None),
               ApprovalTask.notify_connection.is_not(None), since <= now)
        .order_by(since, ApprovalTask.id).limit(batch)
    ).all()
    reminded = 0
    for task in candidates:
        assert task.remind_every_seconds is not None
        seen = task.last_reminded_at
        if (seen or task.created_at) + timedelta(seconds=task.remind_every_seconds) > now:
            continue
        won = db.session.execute(
            sa.update(ApprovalTask)
            .where(ApprovalTask.id == task.id, ApprovalTask.status == ApprovalStatus.PENDING.value,
                   ApprovalTask.last_reminded_at.is_not_distinct_from(seen))
            .values(last_reminded_at=now).execution_options(synchronize_session=False)
        ).rowcount == 1
        db.session.commit()
        if won:
            reminded += 1
            approval_notify.notify(task, "reminder", now)
    return reminded
