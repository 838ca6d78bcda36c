"""Per-workflow figures for a date window, computed by the database: run counts and failure rate, median and
95th-percentile duration, approvals decided within their SLA, average approval time, escalations and the
pending tasks by urgency, plus runs per day by outcome and the duration trend for the charts.

Every figure is an aggregate in SQL (GROUP BY, conditional COUNT, window functions); no run or task row is
loaded into Python. Percentiles use the **nearest-rank** method, which picks an actual observed duration:
the p-th percentile of n ordered durations is the one at rank ``ceil(p / 100 * n)`` (1-based). It is written
with ``ROW_NUMBER()`` and ``COUNT(*)`` over a partition, so the same SQL runs on SQLite (which has no
``percentile_cont``) and PostgreSQL. ``seconds_between`` hides the one dialect difference (durations).
docs/analytics.md says what each figure means.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from automation.approval_inbox import Urgency, urgency_order
from automation.models import ApprovalStatus, ApprovalTask, Execution, ExecutionStatus, Workflow, db

DEFAULT_DAYS = 30
MAX_DAYS = 366
PERCENTILES = (50, 95)
# Runs whose duration means something: they ran to an end. A cancelled run's "duration" is when someone
# pressed cancel, so it is left out of the percentiles (it still counts as started).
TIMED = (ExecutionStatus.SUCCEEDED.value, ExecutionStatus.FAILED.value)
DECIDED = (ApprovalStatus.APPROVED.value, ApprovalStatus.REJECTED.value)
# approval_inbox.urgency_order's sort keys for pending tasks.
URGENCY_KEYS = {0: Urgency.OVERDUE, 1: Urgency.DUE_SOON, 2: Urgency.NORMAL}


class WindowError(ValueError):
    """A query parameter that does not make a window; ``parameter`` names it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter, self.message = parameter, message


@dataclass(frozen=True)
class Window:
    """Whole UTC days ``first`` to ``last`` (both included), optionally one workflow."""

    first: date
    last: date
    workflow_id: int | None = None

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time.min, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The first moment after the window."""
        return datetime.combine(self.last + timedelta(days=1), time.min, tzinfo=UTC)

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


def parse_window(args: Mapping[str, str], today: date) -> Window:
    """``from`` and ``to`` as ISO dates (default: the last 30 days, today included); ``workflow_id`` is left
    to the caller, who resolves it in the caller's workspace.

    Raises:
        WindowError: a date that is not ISO, ``from`` after ``to``, or a window longer than 366 days.
    """
    bounds: dict[str, date] = {}
    for name in ("from", "to"):
        text = (args.get(name) or "").strip()
        if not text:
            continue
        try:
            bounds[name] = date.fromisoformat(text)
        except ValueError:
            raise WindowError(name, f"'{name}' must be an ISO date such as 2025-03-31, not {text!r}") from None
    last = bounds.get("to") or max(today, bounds.get("from", today))
    first = bounds.get("from") or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise WindowError("from", f"'from' ({first}) is after 'to' ({last})")
    if (last - first).days + 1 > MAX_DAYS:
        raise WindowError("from", f"the window is longer than {MAX_DAYS} days; choose a shorter one")
    return Window(first, last)


@dataclass
class Figures:
    """One workflow's figures (or the whole workspace's: ``workflow_id`` None)."""

    workflow_id: int | None
    name: str
    started: int = 0
    succeeded: int = 0
    failed: int = 0
    median_seconds: float | None = None
    p95_seconds: float | None = None
    decided: int = 0
    decided_with_sla: int = 0
    decided_within_sla: int = 0
    approval_seconds_total: float = 0.0
    escalations: int = 0
    pending: dict[str, int] = field(default_factory=lambda: dict.fromkeys(Urgency, 0))

    @property
    def failure_rate(self) -> float | None:
        """Percent of the runs that ended in success or failure which failed; None without any."""
        ended = self.succeeded + self.failed
        return round(100 * self.failed / ended, 1) if ended else None

    @property
    def within_sla(self) -> float | None:
        """Percent of the decided tasks with an SLA that were decided by their due time; None without any."""
        return round(100 * self.decided_within_sla / self.decided_with_sla, 1) if self.decided_with_sla else None

    @property
    def average_approval_seconds(self) -> float | None:
        return round(self.approval_seconds_total / self.decided, 3) if self.decided else None

    def as_json(self) -> dict[str, Any]:
        return {
            "workflow": {"id": self.workflow_id, "name": self.name} if self.workflow_id is not None else None,
            "runs": {"started": self.started, "succeeded": self.succeeded, "failed": self.failed,
                     "failure_rate": self.failure_rate},
            "duration_seconds": {"median": self.median_seconds, "p95": self.p95_seconds},
            "approvals": {"decided": self.decided, "decided_with_sla": self.decided_with_sla,
                          "within_sla": self.decided_within_sla, "within_sla_percent": self.within_sla,
                          "average_seconds": self.average_approval_seconds, "escalations": self.escalations,
                          "pending": {str(k): v for k, v in self.pending.items()}},
        }


@dataclass(frozen=True)
class Report:
    window: Window
    workflows: list[Figures]
    totals: Figures
    runs_per_day: dict[date, dict[str, int]]
    duration_per_day: dict[date, tuple[float | None, float | None]]


# -- the dialect difference -------------------------------------------------------------------------


def seconds_between(start: Any, end: Any) -> sa.ColumnElement[float]:
    """``end - start`` in seconds: julianday arithmetic on SQLite, EXTRACT(EPOCH ...) on PostgreSQL."""
    if db.engine.dialect.name == "postgresql":
        return sa.extract("epoch", end - start)
    return (sa.func.julianday(end) - sa.func.julianday(start)) * 86400.0


def utc_day(column: Any) -> sa.ColumnElement[Any]:
    """The UTC calendar day of a timestamp (PostgreSQL's plain date() would use the session's time zone)."""
    if db.engine.dialect.name == "postgresql":
        return sa.cast(sa.func.timezone("UTC", column), sa.Date)
    return sa.func.date(column)


# -- the report -------------------------------------------------------------------------------------


def report(workspace_id: int, window: Window, now: datetime) -> Report:
    """Every figure for the workspace's workflows (or ``window.workflow_id``'s) in the window."""
    names = db.session.execute(
        sa.select(Workflow.id, Workflow.name).where(Workflow.workspace_id == workspace_id,
                                                    *_only(Workflow.id, window))
        .order_by(sa.func.lower(Workflow.name), Workflow.id)
    ).all()
    figures = {workflow_id: Figures(workflow_id, name) for workflow_id, name in names}
    totals = Figures(None, "All workflows")
    runs = _runs(workspace_id, window)

    for workflow_id, started, succeeded, failed in db.session.execute(
        runs.with_only_columns(Execution.workflow_id, sa.func.count(),
                               _count(Execution.status == ExecutionStatus.SUCCEEDED.value),
                               _count(Execution.status == ExecutionStatus.FAILED.value)).group_by(Execution.workflow_id)
    ):
        _add(figures, totals, workflow_id, started=started, succeeded=succeeded, failed=failed)
    for workflow_id, (median, p95) in percentiles(runs, Execution.workflow_id).items():
        _set(figures, workflow_id, median_seconds=median, p95_seconds=p95)
    totals.median_seconds, totals.p95_seconds = percentiles(runs, None).get(None, (None, None))

    tasks = (sa.select(ApprovalTask).join(Execution, Execution.id == ApprovalTask.execution_id)
             .where(ApprovalTask.workspace_id == workspace_id, *_only(Execution.workflow_id, window)))
    decided = tasks.where(ApprovalTask.status.in_(DECIDED), ApprovalTask.decided_at >= window.start,
                          ApprovalTask.decided_at < window.end)
    with_sla = ApprovalTask.due_at.is_not(None)
    for workflow_id, count, sla, within, total_seconds in db.session.execute(decided.with_only_columns(
        Execution.workflow_id, sa.func.count(), _count(with_sla),
        _count(sa.and_(with_sla, ApprovalTask.decided_at <= ApprovalTask.due_at)),
        sa.func.sum(seconds_between(ApprovalTask.created_at, ApprovalTask.decided_at)),
    ).group_by(Execution.workflow_id)):
        _add(figures, totals, workflow_id, decided=count, decided_with_sla=sla, decided_within_sla=within,
             approval_seconds_total=round(float(total_seconds or 0), 3))
    escalated = tasks.where(ApprovalTask.escalated_at >= window.start, ApprovalTask.escalated_at < window.end)
    for workflow_id, count in db.session.execute(
        escalated.with_only_columns(Execution.workflow_id, sa.func.count()).group_by(Execution.workflow_id)
    ):
        _add(figures, totals, workflow_id, escalations=count)
    # Pending tasks are a snapshot of now, whatever the window: they have not been decided in any window yet.
    key = urgency_order(now)
    pending = tasks.where(ApprovalTask.status == ApprovalStatus.PENDING.value)
    for workflow_id, urgency, count in db.session.execute(
        pending.with_only_columns(Execution.workflow_id, key, sa.func.count()).group_by(Execution.workflow_id, key)
    ):
        name = URGENCY_KEYS[int(urgency)]
        for target in (figures.get(workflow_id), totals):
            if target is not None:
                target.pending[name] += count
    return Report(window, list(figures.values()), totals, runs_per_day(runs, window), duration_per_day(runs, window))


def percentiles(runs: sa.Select[Any], key: Any) -> dict[Any, tuple[float | None, float | None]]:
    """``{key: (median, p95)}`` of the durations of ``runs`` that ended, by ``key`` (None: all together).

    Nearest rank: ROW_NUMBER() orders each partition by duration, COUNT(*) sizes it, and the p-th percentile
    is the row whose number is ceil(p * n / 100), written (p * n + 99) / 100 in integer arithmetic.
    """
    duration = seconds_between(Execution.started_at, Execution.finished_at)
    partition = [key] if key is not None else None
    ranked = runs.with_only_columns(
        (key if key is not None else sa.null()).label("key"),
        duration.label("seconds"),
        sa.func.row_number().over(partition_by=partition, order_by=[duration, Execution.id]).label("rank"),
        sa.func.count().over(partition_by=partition).label("n"),
    ).where(Execution.status.in_(TIMED), Execution.started_at.is_not(None),
            Execution.finished_at.is_not(None)).subquery()
    picks = [sa.func.max(sa.case((ranked.c.rank == (ranked.c.n * p + 99) // 100, ranked.c.seconds)))
             for p in PERCENTILES]
    if key is None:
        query = sa.select(sa.null(), *picks)
    else:
        query = sa.select(ranked.c.key, *picks).group_by(ranked.c.key)
    return {
        _day(row[0]) if isinstance(row[0], str) else row[0]: (_seconds(row[1]), _seconds(row[2]))
        for row in db.session.execute(query) if row[1] is not None
    }


def runs_per_day(runs: sa.Select[Any], window: Window) -> dict[date, dict[str, int]]:
    """``{day: {status: count}}`` for every day of the window (days without runs included, empty)."""
    day = utc_day(Execution.created_at)
    counts: dict[date, dict[str, int]] = {d: {} for d in window.days}
    for value, status, count in db.session.execute(
        runs.with_only_columns(day, Execution.status, sa.func.count()).group_by(day, Execution.status)
    ):
        counts.setdefault(_day(value), {})[status] = count
    return counts


def duration_per_day(runs: sa.Select[Any], window: Window) -> dict[date, tuple[float | None, float | None]]:
    """``{day: (median, p95)}`` of the runs created that day that ended; (None, None) on days without any."""
    found = percentiles(runs, utc_day(Execution.created_at))
    return {d: found.get(d, (None, None)) for d in window.days}


def _runs(workspace_id: int, window: Window) -> sa.Select[Any]:
    """The window's runs (by creation time) of the workspace, or of its one workflow."""
    return sa.select(Execution).where(
        Execution.workspace_id == workspace_id, Execution.created_at >= window.start,
        Execution.created_at < window.end, *_only(Execution.workflow_id, window))


def _only(column: Any, window: Window) -> list[sa.ColumnElement[bool]]:
    return [column == window.workflow_id] if window.workflow_id is not None else []


def _count(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    return sa.func.count(sa.case((condition, 1)))


def _add(figures: dict[int, Figures], totals: Figures, workflow_id: int, **values: Any) -> None:
    """Add aggregates to the workflow's figures and to the totals."""
    for target in (figures.get(workflow_id), totals):
        if target is not None:
            for name, value in values.items():
                setattr(target, name, getattr(target, name) + value)


def _set(figures: dict[int, Figures], workflow_id: int, **values: Any) -> None:
    if workflow_id in figures:
        for name, value in values.items():
            setattr(figures[workflow_id], name, value)


def _day(value: Any) -> date:
    # PostgreSQL answers a date; SQLite's date() answers 'YYYY-MM-DD' text.
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _seconds(value: Any) -> float | None:
    # julianday arithmetic is exact to about 0.1 ms; the stored times themselves are to the millisecond.
    return round(float(value), 3) if value is not None else None
