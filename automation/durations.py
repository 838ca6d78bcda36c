"""Human durations used in definitions and settings: ``10s``, ``15m``, ``2h``, ``1d``, ``1h30m``, ``500ms``."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class DurationError(ValueError):
    """A duration string that cannot be read."""


def parse_duration(text: str | int | float) -> timedelta:
    """Parse ``text`` into a timedelta; a bare number means seconds.

    Raises:
        DurationError: for anything else, including negative values.
    """
    if isinstance(text, bool):
        raise DurationError(f"expected a duration like '30s', '15m' or '2h', got {text!r}")
    if isinstance(text, int | float):
        if text < 0:
            raise DurationError(f"a duration cannot be negative, got {text!r}")
        return timedelta(seconds=text)
    if not isinstance(text, str):
        raise DurationError(f"expected a duration like '30s', '15m' or '2h', got {type(text).__name__}")
    compact = text.strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(\.\d+)?", compact):
        return timedelta(seconds=float(compact))
    if not compact or _PART.sub("", compact):
        raise DurationError(f"expected a duration like '30s', '15m' or '2h', got {text!r}")
    seconds = sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _PART.findall(compact))
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The shortest spelling parse_duration reads back (``90s`` -> ``1m30s``)."""
    total = delta.total_seconds()
    if total < 1 and total > 0:
        return f"{round(total * 1000)}ms"
    rest = int(total)
    parts = []
    for unit in ("d", "h", "m", "s"):
        size = _UNIT_SECONDS[unit]
        count, rest = divmod(rest, int(size))
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
