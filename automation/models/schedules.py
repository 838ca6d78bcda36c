"""Schedule triggers in the database: where each active schedule has got to (ScheduleState) and what
happened at its fire times (ScheduleFire, the workflow's fire history)."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from automation.models.base import WorkspaceScoped, db, utcnow
from automation.schedules import Schedule


class ScheduleState(db.Model, WorkspaceScoped):
    """One row per active, published schedule workflow, kept in step with the workflow by the scheduler.

    ``watermark`` is the newest fire time already handled (or the moment the schedule took effect): only
    fire times after it are due. It only moves forward, with a compare-and-set, so two schedulers that
    briefly both think they lead cannot both handle the same fire time.
    """

    __tablename__ = "schedule_states"

    workflow_id: Mapped[int] = mapped_column(sa.ForeignKey("workflows.id", ondelete="CASCADE"), primary_key=True)
    # The published version this state follows; a fire waits for the sync while the workflow points elsewhere.
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("workflow_versions.id", ondelete="CASCADE"), index=True)
    cron: Mapped[str | None] = mapped_column(sa.String(200))
    every_seconds: Mapped[float | None]
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    watermark: Mapped[datetime]

    @property
    def schedule(self) -> Schedule:
        every = timedelta(seconds=self.every_seconds) if self.every_seconds is not None else None
        return Schedule(cron=self.cron, every=every, timezone=self.timezone)


class FireStatus(enum.StrEnum):
    # Claimed (the watermark moved past it) but its execution is not created yet; lasts milliseconds,
    # or until the next scheduler pass when a scheduler died in between.
    PENDING = "pending"
    FIRED = "fired"
    SKIPPED = "skipped"


class ScheduleFire(db.Model, WorkspaceScoped):
    """What happened at one fire time, or at a range of them that was coalesced or skipped as one.

    The row stands for the fire times from ``covers_from`` to ``scheduled_for`` (equal for a single one);
    ``missed_count`` says how many of them did not get a run of their own. A ``fired`` row has the
    execution started for ``scheduled_for``; a ``skipped`` row says in ``reason`` why nothing ran.
    ``fired_at`` is when a scheduler handled the row (started the run or recorded the skip).
    """

    __tablename__ = "schedule_fires"
    __table_args__ = (
        sa.UniqueConstraint("workflow_id", "scheduled_for"),
        sa.Index("ix_schedule_fires_status_workflow", "status", "workflow_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workflow_id: Mapped[int] = mapped_column(sa.ForeignKey("workflows.id", ondelete="CASCADE"))
    scheduled_for: Mapped[datetime]
    covers_from: Mapped[datetime]
    missed_count: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(sa.String(20))
    fired_at: Mapped[datetime] = mapped_column(default=utcnow)
    execution_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("executions.id", ondelete="SET NULL"), index=True
    )
    reason: Mapped[str | None] = mapped_column(sa.Text)
