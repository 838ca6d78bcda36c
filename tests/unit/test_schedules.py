"""Schedule arithmetic with fixed clocks: cron in a time zone across DST changes, epoch-anchored intervals,
catch-up windows, and schedules in words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from automation.definitions import Schedule
from automation.schedules import cron_problem, describe, fire_times, next_fire_time, upcoming


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


BERLIN_DAILY_0230 = Schedule(cron="30 2 * * *", every=None, timezone="Europe/Berlin")
BERLIN_WEEKDAYS_0900 = Schedule(cron="0 9 * * MON-FRI", every=None, timezone="Europe/Berlin")


def test_weekday_cron_keeps_its_local_time_when_berlin_moves_to_summer_time():
    # Friday 27 March 2026 is CET (UTC+1); from Sunday 29 March Berlin is CEST (UTC+2).
    assert upcoming(BERLIN_WEEKDAYS_0900, utc(2026, 3, 26, 12), count=3) == [
        utc(2026, 3, 27, 8), utc(2026, 3, 30, 7), utc(2026, 3, 31, 7),
    ]


def test_weekday_cron_keeps_its_local_time_when_berlin_moves_back_to_winter_time():
    # Friday 23 October 2026 is CEST; from Sunday 25 October Berlin is CET again.
    assert upcoming(BERLIN_WEEKDAYS_0900, utc(2026, 10, 22, 12), count=3) == [
        utc(2026, 10, 23, 7), utc(2026, 10, 26, 8), utc(2026, 10, 27, 8),
    ]


def test_a_time_skipped_by_spring_forward_runs_once_right_after_the_change():
    # 02:30 does not exist in Berlin on 29 March 2026 (02:00 CET jumps to 03:00 CEST = 01:00 UTC).
    assert upcoming(BERLIN_DAILY_0230, utc(2026, 3, 28, 12), count=3) == [
        utc(2026, 3, 29, 1), utc(2026, 3, 30, 0, 30), utc(2026, 3, 31, 0, 30),
    ]


def test_a_time_repeated_by_fall_back_runs_only_once():
    # 02:30 happens twice in Berlin on 25 October 2026 (00:30 and 01:30 UTC); a daily job runs at the first.
    assert upcoming(BERLIN_DAILY_0230, utc(2026, 10, 24, 12), count=3) == [
        utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30), utc(2026, 10, 27, 1, 30),
    ]


def test_an_hour_wildcard_fires_through_both_repeated_hours_of_fall_back():
    every_half_hour = Schedule(cron="*/30 * * * *", every=None, timezone="Europe/Berlin")
    assert fire_times(every_half_hour, utc(2026, 10, 24, 23, 45), utc(2026, 10, 25, 2)) == [
        utc(2026, 10, 25, 0), utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1), utc(2026, 10, 25, 1, 30),
        utc(2026, 10, 25, 2),
    ]


def test_fire_times_across_a_dst_change_match_stepping_forward_one_by_one():
    after, until = utc(2026, 3, 20), utc(2026, 4, 10)
    stepped, moment = [], after
    while (moment := next_fire_time(BERLIN_DAILY_0230, moment)) <= until:
        stepped.append(moment)
    assert fire_times(BERLIN_DAILY_0230, after, until) == stepped
    assert len(stepped) == 21


def test_fire_times_exclude_the_start_and_include_the_end():
    hourly = Schedule(cron="0 * * * *", every=None, timezone="UTC")
    assert fire_times(hourly, utc(2026, 1, 1, 9), utc(2026, 1, 1, 11)) == [utc(2026, 1, 1, 10), utc(2026, 1, 1, 11)]


def test_a_long_outage_yields_only_the_newest_fire_times_up_to_the_limit():
    every_minute = Schedule(cron="* * * * *", every=None, timezone="UTC")
    times = fire_times(every_minute, utc(2025, 1, 1), utc(2026, 1, 1, 12), limit=3)
    assert times == [utc(2026, 1, 1, 11, 58), utc(2026, 1, 1, 11, 59), utc(2026, 1, 1, 12)]


def test_intervals_are_anchored_at_the_epoch_so_every_process_agrees():
    quarter_hour = Schedule(cron=None, every=timedelta(minutes=15), timezone="UTC")
    assert next_fire_time(quarter_hour, utc(2026, 5, 1, 10, 7, 31)) == utc(2026, 5, 1, 10, 15)
    assert next_fire_time(quarter_hour, utc(2026, 5, 1, 10, 15)) == utc(2026, 5, 1, 10, 30)


def test_interval_fire_times_are_capped_to_the_newest():
    two_seconds = Schedule(cron=None, every=timedelta(seconds=2), timezone="UTC")
    assert fire_times(two_seconds, utc(2026, 5, 1), utc(2026, 5, 1, 0, 0, 9)) == [
        utc(2026, 5, 1, 0, 0, s) for s in (2, 4, 6, 8)
    ]
    assert fire_times(two_seconds, utc(2020, 1, 1), utc(2026, 5, 1), limit=2) == [
        utc(2026, 4, 30, 23, 59, 58), utc(2026, 5, 1),
    ]


@pytest.mark.parametrize(("schedule", "words"), [
    (BERLIN_WEEKDAYS_0900, "At 09:00, Monday through Friday, Europe/Berlin"),
    (Schedule(cron="0 9 * * 1-5", every=None, timezone="UTC"), "At 09:00, Monday through Friday, UTC"),
    (Schedule(cron=None, every=timedelta(minutes=15), timezone="UTC"), "Every 15 minutes"),
    (Schedule(cron=None, every=timedelta(hours=1), timezone="UTC"), "Every hour"),
    (Schedule(cron=None, every=timedelta(seconds=90), timezone="UTC"), "Every 90 seconds"),
])
def test_schedules_are_described_in_words(schedule: Schedule, words: str):
    assert describe(schedule) == words


@pytest.mark.parametrize(("cron", "reason"), [
    ("0 9 * * MON-FRI", None),
    ("0 9 * * mon-fri", None),
    ("0 25 * * *", "'0 25 * * *' is not a valid cron expression: the hour field is not valid "
                   "(allowed: 0-23, *, lists, ranges, steps)"),
    ("0 0 30 2 *", "'0 0 30 2 *' is not a valid cron expression: the day of month field is not valid "
                   "(allowed: 1-31 (and a day that exists in the month), *, lists, ranges, steps)"),
    ("@daily", "needs 5 fields (minute hour day-of-month month day-of-week), got 1"),
    (9, "must be text such as '0 9 * * MON-FRI'"),
])
def test_cron_expressions_are_checked_with_the_reason(cron: object, reason: str | None):
    assert cron_problem(cron) == reason
