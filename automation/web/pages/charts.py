"""Runs per day by outcome for a workflow's page: counted by the database (GROUP BY day and status), drawn
as a server-side SVG of stacked bars with a table of the same numbers for screen readers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from automation.models import Execution, db, utcnow

DAYS = 14
# Outcomes drawn bottom-up; queued, running and waiting runs count as "in progress".
OUTCOMES = ("succeeded", "failed", "cancelled", "in progress")
BAR_WIDTH, GAP, HEIGHT = 16, 6, 80


@dataclass(frozen=True)
class Segment:
    outcome: str
    count: int
    y: float
    height: float


@dataclass(frozen=True)
class Day:
    day: date
    counts: dict[str, int]
    x: int
    segments: list[Segment]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class RunsChart:
    days: list[Day]
    totals: dict[str, int]
    width: int
    height: int
    bar: int = BAR_WIDTH

    @property
    def total(self) -> int:
        return sum(self.totals.values())

    @property
    def summary(self) -> str:
        """The chart in one sentence: "6 runs in the last 14 days: 3 succeeded, 1 failed, 2 in progress."."""
        if not self.total:
            return f"No runs in the last {len(self.days)} days."
        parts = ", ".join(f"{count} {name}" for name, count in self.totals.items() if count)
        return f"{self.total} run{'s' if self.total != 1 else ''} in the last {len(self.days)} days: {parts}."


def outcome(status: str) -> str:
    return status if status in OUTCOMES else "in progress"


def daily_counts(workflow_id: int, today: date | None = None) -> dict[date, dict[str, int]]:
    """``{day: {outcome: count}}`` for the last ``DAYS`` days (UTC), today included; one SQL query."""
    today = today or utcnow().date()
    first = today - timedelta(days=DAYS - 1)
    since = datetime.combine(first, time.min).replace(tzinfo=utcnow().tzinfo)
    day = _day_expression()
    query = (
        sa.select(day, Execution.status, sa.func.count())
        .where(Execution.workflow_id == workflow_id, Execution.created_at >= since)
        .group_by(day, Execution.status)
    )
    counts: dict[date, dict[str, int]] = {first + timedelta(days=n): dict.fromkeys(OUTCOMES, 0) for n in range(DAYS)}
    for value, status, count in db.session.execute(query):
        key = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
        if key in counts:
            counts[key][outcome(status)] += count
    return counts


def runs_chart(workflow_id: int, today: date | None = None) -> RunsChart:
    days, totals = stacked_days(daily_counts(workflow_id, today))
    return RunsChart(days, totals, DAYS * (BAR_WIDTH + GAP) - GAP, HEIGHT)


def stacked_days(counts: dict[date, dict[str, int]]) -> tuple[list[Day], dict[str, int]]:
    """One stacked bar per day (counts by outcome, every outcome present), scaled to the busiest day, and the
    totals per outcome; the analytics page draws its chart with the same geometry."""
    peak = max((sum(c.values()) for c in counts.values()), default=0) or 1
    days = []
    for index, (day, by_outcome) in enumerate(sorted(counts.items())):
        segments, top = [], float(HEIGHT)
        for name in OUTCOMES:
            if by_outcome[name]:
                height = HEIGHT * by_outcome[name] / peak
                top -= height
                segments.append(Segment(name, by_outcome[name], round(top, 2), round(height, 2)))
        days.append(Day(day, by_outcome, index * (BAR_WIDTH + GAP), segments))
    return days, {name: sum(d.counts[name] for d in days) for name in OUTCOMES}


def _day_expression() -> sa.ColumnElement[object]:
    # SQLite stores UTC text and date() cuts it; PostgreSQL's date() would use the session's time zone.
    if db.engine.dialect.name == "postgresql":
        return sa.cast(sa.func.timezone("UTC", Execution.created_at), sa.Date)
    return sa.func.date(Execution.created_at)
