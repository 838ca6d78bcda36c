"""Schedule arithmetic: when a cron or interval schedule fires, and how to say it in words.

Cron expressions are evaluated in the schedule's time zone by cronsim, which follows Debian cron across
daylight-saving changes: a time skipped when clocks go forward runs right after the change, and a
fixed-hour time repeated when clocks go back runs once, while hour wildcards (``*/30 * * * *``) keep
firing through both hours. Intervals are anchored at the Unix epoch, so every scheduler process — and a
standby taking over — computes the same fire times.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cron_descriptor import CasingTypeEnum, FormatException, Options, get_description
from cronsim import CronSim, CronSimError

from automation.durations import parse_duration

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Catch-up after a long outage looks at most this many fire times; older ones are reported as a range.
MAX_FIRE_TIMES = 1000
CRON_FIELDS = ("minute", "hour", "day of month", "month", "day of week")


@dataclass(frozen=True)
class Schedule:
    """When a schedule trigger fires: a 5-field ``cron`` in ``timezone``, or ``every`` interval."""

    cron: str | None
    every: timedelta | None
    timezone: str = "UTC"


def schedule_of(definition: Mapping[str, Any]) -> Schedule | None:
    """The schedule of a validated definition's trigger, or None when it is not a schedule trigger."""
    trigger = definition.get("trigger")
    if not isinstance(trigger, Mapping) or trigger.get("type") != "schedule":
        return None
    spec = trigger["schedule"]
    return Schedule(
        cron=spec.get("cron"),
        every=parse_duration(spec["every"]) if "every" in spec else None,
        timezone=spec.get("timezone", "UTC"),
    )


def cron_problem(expression: object) -> str | None:
    """Why ``expression`` is not a usable 5-field cron, or None when it is."""
    if not isinstance(expression, str):
        return "must be text such as '0 9 * * MON-FRI'"
    fields = expression.split()
    if len(fields) != len(CRON_FIELDS):
        return f"needs 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}"
    try:
        next(CronSim(" ".join(fields).upper(), datetime.now(UTC)))
    except CronSimError as exc:
        return f"{expression!r} is not a valid cron expression: {_cron_reason(str(exc))}"
    except StopIteration:
        return f"{expression!r} never fires"
    return None


def next_fire_time(schedule: Schedule, after: datetime) -> datetime:
    """The first fire time strictly after ``after`` (aware), in UTC."""
    if schedule.every is not None:
        step = schedule.every
        elapsed = after.astimezone(UTC) - EPOCH
        return EPOCH + step * (elapsed // step + 1)
    assert schedule.cron is not None, "a schedule has a cron or an interval"
    local = after.astimezone(ZoneInfo(schedule.timezone))
    return next(CronSim(schedule.cron.upper(), local)).astimezone(UTC)


def fire_times(schedule: Schedule, after: datetime, until: datetime, limit: int = MAX_FIRE_TIMES) -> list[datetime]:
    """Fire times in ``(after, until]``, oldest first; at most the newest ``limit`` of them."""
    if schedule.every is not None:
        first = next_fire_time(schedule, after)
        if first > until:
            return []
        count = (until.astimezone(UTC) - first) // schedule.every + 1
        start = max(0, count - limit)
        return [first + schedule.every * i for i in range(start, count)]
    assert schedule.cron is not None, "a schedule has a cron or an interval"
    # Walk back from ``until`` so a long outage costs ``limit`` steps, not one per missed minute. Cron
    # fires on whole minutes, so starting a second late only adds a fire time that the filter keeps out.
    found: list[datetime] = []
    start = (until + timedelta(seconds=1)).astimezone(ZoneInfo(schedule.timezone))
    for moment in CronSim(schedule.cron.upper(), start, reverse=True):
        if moment <= after or len(found) == limit:
            break
        if moment <= until:
            found.append(moment.astimezone(UTC))
    return found[::-1]


def upcoming(schedule: Schedule, now: datetime, count: int = 5) -> list[datetime]:
    """The next ``count`` fire times after ``now``, in UTC."""
    times: list[datetime] = []
    moment = now
    for _ in range(count):
        moment = next_fire_time(schedule, moment)
        times.append(moment)
    return times


def describe(schedule: Schedule) -> str:
    """The schedule in words: "At 09:00, Monday through Friday, Europe/Berlin" or "Every 15 minutes"."""
    if schedule.every is not None:
        return f"Every {_interval_words(schedule.every)}"
    assert schedule.cron is not None, "a schedule has a cron or an interval"
    return f"{describe_cron(schedule.cron)}, {schedule.timezone}"


def describe_cron(expression: str) -> str:
    options = Options()
    options.use_24hour_time_format = True
    options.casing_type = CasingTypeEnum.Sentence
    options.verbose = False
    try:
        return str(get_description(expression, options))
    except (FormatException, ValueError, KeyError, IndexError):
        # cron-descriptor is stricter about some spellings than the scheduler; the expression still runs.
        return f"Cron {expression}"


def _interval_words(interval: timedelta) -> str:
    seconds = int(interval.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            amount = seconds // size
            return unit if amount == 1 else f"{amount} {unit}s"
    return "second" if seconds == 1 else f"{seconds} seconds"


def _cron_reason(message: str) -> str:
    # cronsim says "Bad day-of-week"; say which values that field takes.
    ranges = {
        "minute": "0-59", "hour": "0-23", "day-of-month": "1-31 (and a day that exists in the month)",
        "month": "1-12 or JAN-DEC", "day-of-week": "0-7 or SUN-SAT",
    }
    for field, allowed in ranges.items():
        if message.endswith(field):
            return f"the {field.replace('-', ' ')} field is not valid (allowed: {allowed}, *, lists, ranges, steps)"
    return message
