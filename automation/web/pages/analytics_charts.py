"""The analytics page's two charts as SVG geometry: runs per day by outcome (stacked bars, drawn like the
workflow page's chart in charts.py) and the duration trend (median and p95 per day as lines). Templates
draw them inline, each with a table of the same numbers for screen readers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from automation.web.pages.charts import BAR_WIDTH, GAP, HEIGHT, OUTCOMES, Day, outcome, stacked_days

SERIES = ("median", "p95")


@dataclass(frozen=True)
class OutcomeChart:
    days: list[Day]
    totals: dict[str, int]
    width: int
    height: int = HEIGHT
    bar: int = BAR_WIDTH

    @property
    def summary(self) -> str:
        total = sum(self.totals.values())
        span = f"{self.days[0].day.isoformat()} to {self.days[-1].day.isoformat()}"
        if not total:
            return f"No runs from {span}."
        parts = ", ".join(f"{count} {name}" for name, count in self.totals.items() if count)
        return f"{total} run{'s' if total != 1 else ''} from {span}: {parts}."


@dataclass(frozen=True)
class Point:
    day: date
    x: float
    median: float | None
    p95: float | None
    y: dict[str, float]


@dataclass(frozen=True)
class DurationChart:
    points: list[Point]
    peak: float
    width: int
    height: int = HEIGHT

    def line(self, series: str) -> str:
        """The ``points`` attribute of the series' polyline (days without finished runs are skipped)."""
        return " ".join(f"{p.x},{p.y[series]}" for p in self.points if series in p.y)

    @property
    def summary(self) -> str:
        timed = [p for p in self.points if p.median is not None]
        if not timed:
            return "No finished runs in this window, so no durations to show."
        return (f"Median and 95th-percentile run duration per day on {len(timed)} day"
                f"{'s' if len(timed) != 1 else ''}; the slowest day's p95 was {seconds_text(self.peak)}.")


def outcome_chart(runs_per_day: dict[date, dict[str, int]]) -> OutcomeChart:
    """Stacked bars per day; queued, running and waiting runs count as "in progress"."""
    counts = {}
    for day, by_status in sorted(runs_per_day.items()):
        counts[day] = dict.fromkeys(OUTCOMES, 0)
        for status, count in by_status.items():
            counts[day][outcome(status)] += count
    days, totals = stacked_days(counts)
    return OutcomeChart(days, totals, max(len(days) * (BAR_WIDTH + GAP) - GAP, BAR_WIDTH))


def duration_chart(duration_per_day: dict[date, tuple[float | None, float | None]]) -> DurationChart:
    """One point per day at the middle of its bar slot, so the two charts line up."""
    peak = max((p95 for _, p95 in duration_per_day.values() if p95 is not None), default=0.0)
    scale = HEIGHT / peak if peak else 0.0
    points = []
    for index, (day, (median, p95)) in enumerate(sorted(duration_per_day.items())):
        values = {"median": median, "p95": p95}
        y = {name: round(HEIGHT - value * scale, 2) for name, value in values.items() if value is not None}
        points.append(Point(day, index * (BAR_WIDTH + GAP) + BAR_WIDTH / 2, median, p95, y))
    return DurationChart(points, peak, max(len(points) * (BAR_WIDTH + GAP) - GAP, BAR_WIDTH))


def seconds_text(seconds: float | None) -> str:
    """A duration for people: "850 ms", "12.5 s", "4 min 05 s", "2 h 10 min"; "—" for none."""
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s".replace(".0 s", " s")
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
