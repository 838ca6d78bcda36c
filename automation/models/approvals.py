"""Human decisions a run waits for (ApprovalTask) and the append-only AuditLog of who changed what."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from automation.models.base import WorkspaceScoped, db, utcnow


class ApprovalStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class ApprovalTask(db.Model, WorkspaceScoped):
    """One decision a run waits for. Assigned to one user or to everyone holding ``assignee_role``."""

    __tablename__ = "approval_tasks"
    __table_args__ = (
        sa.Index("ix_approval_tasks_pending", "workspace_id", "status", "due_at"),
        # Analytics reads the tasks decided in a window.
        sa.Index("ix_approval_tasks_workspace_decided", "workspace_id", "decided_at"),
        sa.UniqueConstraint("execution_id", "step_id", "round"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    execution_id: Mapped[int] = mapped_column(sa.ForeignKey("executions.id", ondelete="CASCADE"), index=True)
    step_id: Mapped[str] = mapped_column(sa.String(100))
    round: Mapped[int] = mapped_column(default=1)
    assignee_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    assignee_role: Mapped[str | None] = mapped_column(sa.String(20))
    title: Mapped[str] = mapped_column(sa.String(300))
    details: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[str] = mapped_column(sa.String(20), default=ApprovalStatus.PENDING.value)
    due_at: Mapped[datetime | None]
    # When the last fifth of the SLA starts: stored so the inbox can sort by urgency in SQL on every backend.
    due_soon_at: Mapped[datetime | None]
    remind_every_seconds: Mapped[int | None]
    escalate_to: Mapped[str | None] = mapped_column(sa.String(320))
    escalated_at: Mapped[datetime | None]
    last_reminded_at: Mapped[datetime | None]
    # Notifications (automation/approval_notify.py): the smtp or slack connection's name, the Slack channel,
    # the notice still owed ("opened", "delegated", "escalated"; claimed with a compare-and-set before sending),
    # and the outcome of the last one sent.
    notify_connection: Mapped[str | None] = mapped_column(sa.String(120))
    notify_channel: Mapped[str | None] = mapped_column(sa.String(200))
    notice_due: Mapped[str | None] = mapped_column(sa.String(20))
    notified_at: Mapped[datetime | None]
    notify_error: Mapped[str | None] = mapped_column(sa.Text)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    comment: Mapped[str | None] = mapped_column(sa.Text)
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditLog(db.Model, WorkspaceScoped):
    """One change someone made, written by automation/audit.py only; never updated or deleted (on PostgreSQL
    a trigger refuses both: automation/models/append_only.py)."""

    __tablename__ = "audit_log"
    __table_args__ = (sa.Index("ix_audit_log_workspace_at", "workspace_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # No foreign key: ON DELETE SET NULL would be an UPDATE the trigger refuses, and the entry outlives the
    # user anyway (``actor`` keeps the email as it was).
    actor_user_id: Mapped[int | None]
    actor: Mapped[str] = mapped_column(sa.String(320))
    action: Mapped[str] = mapped_column(sa.String(80))
    target_type: Mapped[str | None] = mapped_column(sa.String(40))
    target_id: Mapped[str | None] = mapped_column(sa.String(64))
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    at: Mapped[datetime] = mapped_column(default=utcnow)
