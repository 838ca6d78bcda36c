"""Workflows, their immutable versions, and the named credentials (Connection) their steps use."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from automation.models.base import Timestamps, WorkspaceScoped, db, utcnow


class WorkflowStatus(enum.StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"


class Connection(db.Model, WorkspaceScoped, Timestamps):
    """Credential for a connector. ``secrets`` holds Fernet ciphertext only; ``fields`` holds the rest."""

    __tablename__ = "connections"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    connector: Mapped[str] = mapped_column(sa.String(40))
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    secrets: Mapped[str | None] = mapped_column(sa.Text)


class Workflow(db.Model, WorkspaceScoped, Timestamps):
    __tablename__ = "workflows"
    __table_args__ = (sa.Index("ix_workflows_workspace_name", "workspace_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(20), default=WorkflowStatus.DRAFT.value, index=True)
    template_key: Mapped[str | None] = mapped_column(sa.String(80))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    hook_token: Mapped[str] = mapped_column(sa.String(64), unique=True)
    current_version_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("workflow_versions.id", use_alter=True, ondelete="SET NULL")
    )
    latest_version_number: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    # Days this workflow's finished runs are kept; None: RELAY_RETENTION_DAYS (automation/retention.py).
    retention_days: Mapped[int | None]

    versions: Mapped[list[WorkflowVersion]] = relationship(
        back_populates="workflow",
        foreign_keys="WorkflowVersion.workflow_id",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="WorkflowVersion.number",
    )
    current_version: Mapped[WorkflowVersion | None] = relationship(
        foreign_keys=[current_version_id], post_update=True
    )


class WorkflowVersion(db.Model, WorkspaceScoped):
    """One immutable snapshot of a workflow's definition and params; executions pin one."""

    __tablename__ = "workflow_versions"
    __table_args__ = (sa.UniqueConstraint("workflow_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workflow_id: Mapped[int] = mapped_column(sa.ForeignKey("workflows.id", ondelete="CASCADE"))
    number: Mapped[int]
    definition: Mapped[dict[str, Any]]
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]

    workflow: Mapped[Workflow] = relationship(back_populates="versions", foreign_keys=[workflow_id])
