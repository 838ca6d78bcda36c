"""Runs of a workflow: Execution (the outbox row and state), StepRun (one per attempt), ExecutionEvent."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from automation.models.base import WorkspaceScoped, db, utcnow


class ExecutionStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in FINISHED


FINISHED = frozenset({ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED})


class StepStatus(enum.StrEnum):
    RUNNING = "running"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"


class Execution(db.Model, WorkspaceScoped):
    __tablename__ = "executions"
    __table_args__ = (
        sa.UniqueConstraint("workflow_id", "idempotency_key"),
        sa.Index("ix_executions_workflow_created", "workflow_id", "id"),
        sa.Index("ix_executions_workspace_status", "workspace_id", "status", "id"),
        sa.Index("ix_executions_status_wake", "status", "wake_at"),
        sa.Index("ix_executions_status_lease", "status", "lease_expires_at"),
        # Analytics (automation/analytics.py) reads a workspace's runs by creation time.
        sa.Index("ix_executions_workspace_created", "workspace_id", "created_at"),
        # A correlation id from the logs or a caller's X-Request-ID finds its runs (GET /api/v1/executions).
        sa.Index("ix_executions_workspace_correlation", "workspace_id", "correlation_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workflow_id: Mapped[int] = mapped_column(sa.ForeignKey("workflows.id", ondelete="CASCADE"))
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("workflow_versions.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(sa.String(20), default=ExecutionStatus.QUEUED.value)
    trigger_kind: Mapped[str] = mapped_column(sa.String(20))
    trigger: Mapped[dict[str, Any]] = mapped_column(default=dict)
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(255))
    correlation_id: Mapped[str] = mapped_column(sa.String(64))
    error: Mapped[str | None] = mapped_column(sa.Text)
    error_step: Mapped[str | None] = mapped_column(sa.String(100))
    # Fencing token of the worker that holds the run; every checkpoint write is conditional on it.
    run_token: Mapped[str | None] = mapped_column(sa.String(36))
    lease_expires_at: Mapped[datetime | None]
    wake_at: Mapped[datetime | None]
    round: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    enqueued_at: Mapped[datetime | None]

    version: Mapped[Any] = relationship("WorkflowVersion")
    step_runs: Mapped[list[StepRun]] = relationship(
        back_populates="execution", cascade="all, delete-orphan", passive_deletes=True, order_by="StepRun.id"
    )
    events: Mapped[list[ExecutionEvent]] = relationship(
        back_populates="execution", cascade="all, delete-orphan", passive_deletes=True,
        order_by="ExecutionEvent.id",
    )


class StepRun(db.Model, WorkspaceScoped):
    """One attempt of one step. Inputs are stored with secrets already redacted."""

    __tablename__ = "step_runs"
    __table_args__ = (sa.Index("ix_step_runs_execution_step", "execution_id", "step_id", "attempt"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    execution_id: Mapped[int] = mapped_column(sa.ForeignKey("executions.id", ondelete="CASCADE"))
    step_id: Mapped[str] = mapped_column(sa.String(100))
    action: Mapped[str] = mapped_column(sa.String(100))
    parent_step_id: Mapped[str | None] = mapped_column(sa.String(100))
    item_index: Mapped[int | None]
    status: Mapped[str] = mapped_column(sa.String(20))
    attempt: Mapped[int] = mapped_column(default=1)
    round: Mapped[int] = mapped_column(default=1)
    input: Mapped[dict[str, Any] | None]
    output: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(sa.Text)
    retryable: Mapped[bool | None]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    resume_at: Mapped[datetime | None]

    execution: Mapped[Execution] = relationship(back_populates="step_runs")


class ExecutionEvent(db.Model, WorkspaceScoped):
    """Append-only: one row per status change of an execution, written in the same transaction."""

    __tablename__ = "execution_events"
    __table_args__ = (sa.Index("ix_execution_events_execution", "execution_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    execution_id: Mapped[int] = mapped_column(sa.ForeignKey("executions.id", ondelete="CASCADE"))
    from_status: Mapped[str | None] = mapped_column(sa.String(20))
    to_status: Mapped[str] = mapped_column(sa.String(20))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)

    execution: Mapped[Execution] = relationship(back_populates="events")
