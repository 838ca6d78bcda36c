"""Durations read the way people write them, and refuse anything else with a clear message."""

from datetime import timedelta

import pytest

from automation.durations import DurationError, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10s", timedelta(seconds=10)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("3d", timedelta(days=3)),
        ("1w", timedelta(weeks=1)),
        ("1h30m", timedelta(minutes=90)),
        ("500ms", timedelta(milliseconds=500)),
        ("45", timedelta(seconds=45)),
        (" 2 H ", timedelta(hours=2)),
        (30, timedelta(seconds=30)),
    ],
)
def test_duration_forms_are_understood(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "soon", "10x", "-5s", "h", "1h-", None, True, -1])
def test_unreadable_durations_are_refused(text):
    with pytest.raises(DurationError):
        parse_duration(text)


@pytest.mark.parametrize("seconds", [0.25, 1, 59, 90, 3600, 5400, 86400 + 61])
def test_formatted_durations_read_back_to_the_same_value(seconds):
    delta = timedelta(seconds=seconds)
    assert parse_duration(format_duration(delta)) == delta
