"""Schedule triggers in the database: which workflows have a schedule, and what happens at a fire time.

``ScheduleSync.run`` keeps one ``ScheduleState`` per active, published schedule workflow. A new or changed
schedule takes effect from the moment the workflow last changed (publish, resume): fire times before it
never run. Paused, deleted and non-schedule workflows lose their state.

``fire_due`` handles every fire time after the state's watermark, in two steps that each commit:

1. Claim: move the watermark to the newest due fire time with a compare-and-set and, in the same
   transaction, write the history rows: one ``skipped`` row for the fire times at least the grace
   window (RELAY_SCHEDULE_GRACE) late, and one ``pending`` row for the newest fire time, which stands
   for (coalesces) the others within the window. Whoever loses the compare-and-set does nothing.
2. Start: every ``pending`` row becomes an execution, with the idempotency key
   ``schedule:<workflow id>:<fire time>``, and then ``fired`` (or ``skipped`` when the workflow cannot
   run, e.g. paused). A scheduler that dies between the steps leaves the row ``pending``; the next pass
   starts it, and the key makes starting it twice harmless.

So a fire time is claimed once, recorded once, and runs at most once, whichever scheduler gets to it
and however late.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from automation import metrics
from automation.durations import format_duration
from automation.ingest import NotRunnable, start_execution
from automation.models import (
    FireStatus,
    ScheduleFire,
    ScheduleState,
    Workflow,
    WorkflowStatus,
    WorkflowVersion,
    db,
    utcnow,
)
from automation.schedules import Schedule, fire_times, next_fire_time, schedule_of

log = logging.getLogger(__name__)

TRIGGER_KIND = "schedule"
VERSION_BATCH = 500


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def idempotency_key(workflow_id: int, scheduled_for: datetime) -> str:
    return f"schedule:{workflow_id}:{iso_utc(scheduled_for)}"


@dataclass(frozen=True)
class SyncResult:
    # Workflow id -> schedule, for every workflow whose schedule is in effect.
    schedules: dict[int, Schedule]
    # Workflows with a fire time or a claimed run that should have been handled by now.
    overdue: frozenset[int]


class ScheduleSync:
    """Brings schedule states in line with the workflows; remembers each published version's schedule
    (versions never change), so a pass reads only the definitions it has not seen."""

    def __init__(self) -> None:
        self._by_version: dict[int, Schedule | None] = {}

    def run(self, now: datetime | None = None, slack: timedelta = timedelta(0)) -> SyncResult:
        """One pass. A fire time older than ``slack`` that is still unhandled counts as overdue."""
        now = now or utcnow()
        published = db.session.execute(
            sa.select(Workflow.id, Workflow.workspace_id, Workflow.current_version_id, Workflow.updated_at)
            .where(Workflow.status == WorkflowStatus.ACTIVE.value, Workflow.current_version_id.is_not(None))
        ).all()
        self._learn({row.current_version_id for row in published})
        wanted = {row.id: row for row in published if self._by_version[row.current_version_id] is not None}
        states = {
            state.workflow_id: state
            for state in db.session.scalars(sa.select(ScheduleState).execution_options(populate_existing=True))
        }

        for workflow_id in states.keys() - wanted.keys():
            db.session.execute(sa.delete(ScheduleState).where(ScheduleState.workflow_id == workflow_id))
            log.info("workflow %s: schedule stopped (paused, deleted or no longer a schedule)", workflow_id)
        watermarks: dict[int, datetime] = {}
        for workflow_id, row in wanted.items():
            schedule = self._schedule(row)
            state = states.get(workflow_id)
            if state is None or state.schedule != schedule:
                since = _effective_from(workflow_id, row.updated_at, now)
                _put_state(state, row, schedule, since)
                watermarks[workflow_id] = since
                log.info("workflow %s: schedule %s from %s", workflow_id,
                         "started" if state is None else "changed", iso_utc(since))
            else:
                if state.version_id != row.current_version_id:
                    db.session.execute(
                        sa.update(ScheduleState)
                        .where(ScheduleState.workflow_id == workflow_id,
                               ScheduleState.version_id == state.version_id)
                        .values(version_id=row.current_version_id)
                    )
                watermarks[workflow_id] = state.watermark
        db.session.commit()

        claimed = set(db.session.scalars(
            sa.select(ScheduleFire.workflow_id).where(ScheduleFire.status == FireStatus.PENDING.value).distinct()
        ))
        # A claim left by a scheduler that died, on a workflow since paused: no job will look at it again.
        grace = timedelta(seconds=float(current_app.config["RELAY_SCHEDULE_GRACE"]))
        for workflow_id in claimed - wanted.keys():
            start_claimed(workflow_id, now, grace)
        schedules = {workflow_id: self._schedule(row) for workflow_id, row in wanted.items()}
        overdue = {
            workflow_id for workflow_id, schedule in schedules.items()
            if workflow_id in claimed or next_fire_time(schedule, watermarks[workflow_id]) <= now - slack
        }
        return SyncResult(schedules, frozenset(overdue))

    def _schedule(self, row: Any) -> Schedule:
        schedule = self._by_version[row.current_version_id]
        assert schedule is not None, "only workflows with a schedule are wanted"
        return schedule

    def _learn(self, version_ids: set[int]) -> None:
        unseen = sorted(version_ids - self._by_version.keys())
        for start in range(0, len(unseen), VERSION_BATCH):
            rows = db.session.execute(
                sa.select(WorkflowVersion.id, WorkflowVersion.definition)
                .where(WorkflowVersion.id.in_(unseen[start:start + VERSION_BATCH]))
            )
            for version_id, definition in rows:
                self._by_version[version_id] = _schedule_or_none(version_id, definition)
        self._by_version = {k: v for k, v in self._by_version.items() if k in version_ids}


def _schedule_or_none(version_id: int, definition: Any) -> Schedule | None:
    try:
        return schedule_of(definition)
    except (KeyError, TypeError, ValueError) as exc:
        # Published versions were validated; one that no longer reads must not stop every other schedule.
        log.error("version %s: its schedule cannot be read (%s); it does not fire", version_id, exc)
        return None


def _effective_from(workflow_id: int, changed_at: datetime, now: datetime) -> datetime:
    # The last change of the workflow row is when it was published or resumed. Never before a fire time
    # already recorded (hosts' clocks differ a little), never in the future.
    last_fire = db.session.scalar(
        sa.select(sa.func.max(ScheduleFire.scheduled_for)).where(ScheduleFire.workflow_id == workflow_id)
    )
    return min(now, max(changed_at, last_fire or changed_at))


def _put_state(state: ScheduleState | None, row: Any, schedule: Schedule, since: datetime) -> None:
    values = {
        "version_id": row.current_version_id,
        "cron": schedule.cron,
        "every_seconds": schedule.every.total_seconds() if schedule.every is not None else None,
        "timezone": schedule.timezone,
        "watermark": since,
    }
    if state is None:
        db.session.add(ScheduleState(workflow_id=row.id, workspace_id=row.workspace_id, **values))
        return
    # Only if no fire was claimed since we read it: a claim moves the watermark, and this pass runs again.
    db.session.execute(
        sa.update(ScheduleState)
        .where(ScheduleState.workflow_id == row.id, ScheduleState.watermark == state.watermark)
        .values(**values)
    )


def fire_due(workflow_id: int, now: datetime | None = None) -> None:
    """Claim the workflow's due fire times, then start the runs claimed for it (see the module docstring)."""
    now = now or utcnow()
    grace = timedelta(seconds=float(current_app.config["RELAY_SCHEDULE_GRACE"]))
    claim(workflow_id, now, grace)
    start_claimed(workflow_id, now, grace)


def claim(workflow_id: int, now: datetime, grace: timedelta) -> bool:
    """Step 1: record the due fire times and move the watermark past them. False: nothing to claim here."""
    state = db.session.scalar(
        sa.select(ScheduleState).where(ScheduleState.workflow_id == workflow_id)
        .execution_options(populate_existing=True)
    )
    if state is None:
        return False
    schedule, watermark = state.schedule, state.watermark
    cutoff = now - grace
    late = fire_times(schedule, watermark, cutoff) if watermark < cutoff else []
    recent = fire_times(schedule, max(watermark, cutoff), now)
    if not late and not recent:
        db.session.rollback()
        return False
    current_version = db.session.scalar(sa.select(Workflow.current_version_id).where(Workflow.id == workflow_id))
    if current_version != state.version_id:
        # Published again since the last sync: the next pass says which schedule is in effect.
        db.session.rollback()
        return False
    moved = db.session.execute(
        sa.update(ScheduleState)
        .where(ScheduleState.workflow_id == workflow_id, ScheduleState.watermark == watermark,
               ScheduleState.version_id == state.version_id)
        .values(watermark=(recent or late)[-1])
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        db.session.rollback()  # another scheduler claimed these fire times first
        return False
    if late:
        first = next_fire_time(schedule, watermark)
        count = _count(schedule, first, late[-1], len(late))
        db.session.add(ScheduleFire(
            workspace_id=state.workspace_id, workflow_id=workflow_id, status=FireStatus.SKIPPED.value,
            covers_from=first, scheduled_for=late[-1], missed_count=count, fired_at=now,
            reason=f"{_times(count)} from {iso_utc(first)} to {iso_utc(late[-1])} went by while no scheduler "
                   f"was running, and it came back more than {format_duration(grace)} later",
        ))
        log.info("workflow %s: skipped %s up to %s (more than %s late)",
                 workflow_id, _times(count), iso_utc(late[-1]), format_duration(grace))
    if recent:
        first = next_fire_time(schedule, max(watermark, cutoff))
        coalesced = _count(schedule, first, recent[-1], len(recent)) - 1
        db.session.add(ScheduleFire(
            workspace_id=state.workspace_id, workflow_id=workflow_id, status=FireStatus.PENDING.value,
            covers_from=first, scheduled_for=recent[-1], missed_count=coalesced, fired_at=now,
        ))
    db.session.commit()
    if late:
        metrics.scheduler_missed(count)
    return True


def start_claimed(workflow_id: int, now: datetime, grace: timedelta) -> None:
    """Step 2: start an execution for each pending fire of the workflow and record the outcome."""
    pending = db.session.execute(
        sa.select(ScheduleFire.id, ScheduleFire.scheduled_for, ScheduleFire.missed_count)
        .where(ScheduleFire.workflow_id == workflow_id, ScheduleFire.status == FireStatus.PENDING.value)
        .order_by(ScheduleFire.scheduled_for)
    ).all()
    for fire_id, scheduled_for, missed in pending:
        if scheduled_for <= now - grace:
            if _settle(fire_id, now, FireStatus.SKIPPED,
                       reason=f"the scheduler stopped before starting this run and none came back within "
                              f"{format_duration(grace)}"):
                metrics.scheduler_missed()
                log.info("workflow %s: skipped %s (claimed, but not started within %s)",
                         workflow_id, iso_utc(scheduled_for), format_duration(grace))
            continue
        workflow = db.session.get(Workflow, workflow_id)
        if workflow is None:
            return
        try:
            execution, _ = start_execution(
                workflow, trigger_kind=TRIGGER_KIND,
                payload={"fired_at": iso_utc(now), "scheduled_for": iso_utc(scheduled_for)},
                idempotency_key=idempotency_key(workflow_id, scheduled_for),
            )
        except NotRunnable as exc:
            if _settle(fire_id, now, FireStatus.SKIPPED, reason=f"not run: {exc}"):
                metrics.scheduler_missed()
                log.info("workflow %s: skipped %s (%s)", workflow_id, iso_utc(scheduled_for), exc)
            continue
        if _settle(fire_id, now, FireStatus.FIRED, execution_id=execution.id):
            metrics.scheduler_fired()
            log.info("workflow %s: fired %s as execution %s%s", workflow_id, iso_utc(scheduled_for), execution.id,
                     f" (coalescing {_times(missed)} missed before it)" if missed else "")


def _settle(fire_id: int, now: datetime, status: FireStatus, **values: Any) -> bool:
    changed = db.session.execute(
        sa.update(ScheduleFire)
        .where(ScheduleFire.id == fire_id, ScheduleFire.status == FireStatus.PENDING.value)
        .values(status=status.value, fired_at=now, **values)
    )
    db.session.commit()
    return changed.rowcount == 1  # type: ignore[attr-defined]


def _count(schedule: Schedule, first: datetime, last: datetime, listed: int) -> int:
    """Fire times from ``first`` to ``last``: exact for intervals; a cron range is listed (and so counted)
    only up to MAX_FIRE_TIMES, which is where an outage's count stops."""
    if schedule.every is not None:
        return (last - first) // schedule.every + 1
    return listed


def _times(count: int) -> str:
    return "1 fire time" if count == 1 else f"{count} fire times"

