"""Reading approval tasks for an inbox: who a task is addressed to, how urgent it is, how long is left.

Urgency: ``overdue`` past ``due_at``; ``due_soon`` in the last fifth of the SLA (from ``due_soon_at``,
stored when the task opens so lists sort by urgency in SQL on every backend); ``normal`` otherwise.
A task that is no longer pending has no urgency.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime, timedelta

import sqlalchemy as sa

from automation.models import ApprovalStatus, ApprovalTask, Role, User, db

ROLE_PREFIX = "role:"


class Urgency(enum.StrEnum):
    OVERDUE = "overdue"
    DUE_SOON = "due_soon"
    NORMAL = "normal"


def assignee_label(task: ApprovalTask, emails: Mapping[int, str] | None = None) -> str:
    """``ada@example.com`` or ``role:approver``; ``emails`` (by user id) saves a query per task in a list."""
    if task.assignee_user_id is None:
        return f"{ROLE_PREFIX}{task.assignee_role}"
    if emails is not None and task.assignee_user_id in emails:
        return emails[task.assignee_user_id]
    user = db.session.get(User, task.assignee_user_id)
    return user.email if user else "a removed user"


def addressed_to(user_id: int, role: Role) -> sa.ColumnElement[bool]:
    """Tasks assigned to this user or to their role (``assignee=me``)."""
    return sa.or_(ApprovalTask.assignee_user_id == user_id, ApprovalTask.assignee_role == role.value)


def urgency(task: ApprovalTask, now: datetime) -> Urgency | None:
    """How pressing a pending task is; None once it is no longer pending."""
    if task.status != ApprovalStatus.PENDING:
        return None
    if task.due_at is not None and task.due_at <= now:
        return Urgency.OVERDUE
    if task.due_soon_at is not None and task.due_soon_at <= now:
        return Urgency.DUE_SOON
    return Urgency.NORMAL


def urgency_order(now: datetime) -> sa.ColumnElement[int]:
    """``urgency`` as a sort key in SQL: overdue, due soon, normal, then tasks no longer pending."""
    return sa.case(
        (ApprovalTask.status != ApprovalStatus.PENDING.value, 3),
        (ApprovalTask.due_at <= now, 0),
        (ApprovalTask.due_soon_at <= now, 1),
        else_=2,
    )


def hours_remaining(task: ApprovalTask, now: datetime) -> float | None:
    """Hours until the SLA (negative once overdue); None without an SLA or once decided."""
    if task.due_at is None or task.status != ApprovalStatus.PENDING:
        return None
    return round((task.due_at - now) / timedelta(hours=1), 2)
