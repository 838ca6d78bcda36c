"""Reading the audit trail, shared by ``GET /api/v1/audit`` and the audit page: the filters from query
parameters, the scoped query, an entry's JSON, its changed keys, and CSV rows safe to open in a spreadsheet.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from automation.models import AuditLog, db
from automation.scoping import scoped
from automation.web.serializers import iso

FILTERS = ("action", "actor", "target_type", "target_id", "from", "to")
CSV_COLUMNS = ("at", "actor", "action", "target_type", "target_id", "ip", "before", "after")
# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MAX_FILTER = 320


class FilterError(ValueError):
    """A query parameter that cannot be used; ``parameter`` names it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.message = message


@dataclass(frozen=True)
class Change:
    """One key of an entry's target that differs between ``before`` and ``after`` (None: absent)."""

    key: str
    before: str | None
    after: str | None


def query(args: Mapping[str, str]) -> sa.Select[tuple[AuditLog]]:
    """The caller's workspace's entries matching ``args``, newest first.

    ``action`` is exact, or a prefix when it ends with a dot (``workflow.``); ``actor`` is an email (or
    Relay's own label), any case; ``from``/``to`` are ISO dates or times (a date alone means the whole day,
    a time without an offset means UTC).

    Raises:
        FilterError: a value that is too long, not an ISO date or time, or ``from`` after ``to``.
    """
    select = scoped(AuditLog)
    action = _text(args, "action")
    if action:
        select = select.where(AuditLog.action.startswith(action, autoescape=True) if action.endswith(".")
                              else AuditLog.action == action)
    actor = _text(args, "actor")
    if actor:
        select = select.where(sa.func.lower(AuditLog.actor) == actor.lower())
    for name, column in (("target_type", AuditLog.target_type), ("target_id", AuditLog.target_id)):
        value = _text(args, name)
        if value:
            select = select.where(column == value)
    start, end = _moment(args, "from", end=False), _moment(args, "to", end=True)
    if start is not None and end is not None and start >= end:
        raise FilterError("from", "'from' must be before 'to'")
    if start is not None:
        select = select.where(AuditLog.at >= start)
    if end is not None:
        select = select.where(AuditLog.at < end)
    return select.order_by(AuditLog.at.desc(), AuditLog.id.desc())


def entry_json(entry: AuditLog) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": iso(entry.at),
        "actor": entry.actor,
        "actor_user_id": entry.actor_user_id,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "ip": entry.ip,
        "before": entry.before,
        "after": entry.after,
    }


def changes(entry: AuditLog, limit: int = 120) -> list[Change]:
    """The keys whose values differ between ``before`` and ``after``, each value shortened to ``limit``."""
    before, after = entry.before or {}, entry.after or {}
    keys = [*before, *(k for k in after if k not in before)]
    return [Change(key, _short(before, key, limit), _short(after, key, limit))
            for key in keys if before.get(key) != after.get(key) or (key in before) != (key in after)]


def csv_lines(select: sa.Select[tuple[AuditLog]], batch: int = 500) -> Iterator[str]:
    """The header and one line per entry, ``before``/``after`` as JSON, every formula-like cell quoted.

    The query runs inside the generator, which the views wrap in ``stream_with_context``: run in the view, its
    cursor would belong to a session that is closed by the time the response is streamed.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells: list[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_neutralise(cell) for cell in cells])
        return buffer.getvalue()

    yield line(list(CSV_COLUMNS))
    for entry in db.session.scalars(select.execution_options(yield_per=batch)):
        yield line([iso(entry.at) or "", entry.actor, entry.action, entry.target_type or "",
                    entry.target_id or "", entry.ip or "", _json(entry.before), _json(entry.after)])


def _neutralise(cell: str) -> str:
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def _json(value: dict[str, Any] | None) -> str:
    return "" if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)


def _short(values: Mapping[str, Any], key: str, limit: int) -> str | None:
    if key not in values:
        return None
    value = values[key]
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(args: Mapping[str, str], name: str) -> str:
    value = (args.get(name) or "").strip()
    if len(value) > MAX_FILTER:
        raise FilterError(name, f"query parameter '{name}' must be at most {MAX_FILTER} characters")
    if "\x00" in value:
        raise FilterError(name, f"query parameter '{name}' contains a NUL character")
    return value


def _moment(args: Mapping[str, str], name: str, *, end: bool) -> datetime | None:
    """``from`` is the first moment included; ``to`` the first moment excluded (after a whole day's end)."""
    text = _text(args, name)
    if not text:
        return None
    try:
        if "T" not in text and " " not in text:
            day = date.fromisoformat(text)
            return datetime.combine(day + timedelta(days=1) if end else day, time(), tzinfo=UTC)
        moment = datetime.fromisoformat(text)
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        # An exact time is included at both ends.
        return moment + timedelta(microseconds=1) if end else moment
    except (ValueError, OverflowError):
        raise FilterError(name, f"query parameter '{name}' must be an ISO date or time, such as 2026-01-31 or "
                                "2026-01-31T09:00:00Z") from None
