"""Template parameters: their types, and checking one value a person typed into a template's form.

A value is checked and normalised on its own here (``"9:30"`` becomes ``"09:30"``, ``"+49 151 1234567"``
becomes ``"+491511234567"``, ``"15"`` becomes ``15``); whether a named connection exists in the workspace is
the instantiating code's question, since only it has the workspace.
"""

from __future__ import annotations

import math
import re
import zoneinfo
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from automation.schedules import cron_problem
from integrations.sms import E164

TYPES = ("string", "text", "number", "email", "phone", "url", "time", "timezone", "cron", "select")
CONNECTION_PREFIX = "connection:"
MAX_STRING = 500
MAX_TEXT = 10_000
MAX_URL = 2000
# One address, the part a person types: local@domain.tld, no display name and no list.
EMAIL = re.compile(r"^[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\"]+$")
TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
# Files of the tz database that ``available_timezones`` lists on some systems but that name no place.
NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})
# What people put between the digits of a phone number; E.164 itself has none of it.
PHONE_SEPARATORS = re.compile(r"[\s\-().]")


class ValueProblem(ValueError):
    """The value does not fit the parameter; the message says what would."""


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class Parameter:
    """One field of a template's form. ``type`` is one of ``TYPES`` or ``connection:<connection type>``."""

    name: str
    label: str
    help: str
    type: str
    required: bool = False
    default: Any = None
    choices: tuple[Choice, ...] = ()
    example: Any = None
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False
    pattern: str | None = None

    @property
    def connection_type(self) -> str | None:
        """The connection type a ``connection:<type>`` parameter names, else None."""
        return self.type.removeprefix(CONNECTION_PREFIX) if self.type.startswith(CONNECTION_PREFIX) else None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name, "label": self.label, "help": self.help, "type": self.type,
            "required": self.required, "default": self.default,
            "choices": [{"value": c.value, "label": c.label} for c in self.choices] or None,
            "example": self.example,
        }
        if self.type == "number":
            data.update(min=self.minimum, max=self.maximum, integer=self.integer)
        return data


def normalise(parameter: Parameter, value: Any) -> Any:
    """The value as stored with the workflow.

    Raises:
        ValueProblem: the value does not fit the parameter's type (the message never repeats a long value).
    """
    if parameter.connection_type is not None:
        return _one_line(value, "the name of a saved connection", MAX_STRING)
    return _CHECKS[parameter.type](parameter, value)


def _string(parameter: Parameter, value: Any) -> str:
    text = _one_line(value, "text", MAX_STRING)
    if parameter.pattern and not re.fullmatch(parameter.pattern, text):
        raise ValueProblem(f"must match {parameter.pattern}")
    return text


def _text(parameter: Parameter, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueProblem(f"must be text, not {_kind(value)}")
    # Browsers send a textarea's line breaks as CRLF.
    text = value.replace("\r\n", "\n").strip()
    if len(text) > MAX_TEXT:
        raise ValueProblem(f"at most {MAX_TEXT} characters")
    if any((ch < " " and ch not in "\n\t") or ch == "\x7f" for ch in text):
        raise ValueProblem("no control characters")
    return text


def _number(parameter: Parameter, value: Any) -> int | float:
    number = value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise ValueProblem(f"must be a number, not {value[:40]!r}") from None
    if isinstance(number, bool) or not isinstance(number, int | float) or (
            isinstance(number, float) and not math.isfinite(number)):
        raise ValueProblem(f"must be a number, not {_kind(value)}")
    if parameter.integer:
        if number != int(number):
            raise ValueProblem("must be a whole number")
        number = int(number)
    elif isinstance(number, float) and number.is_integer():
        number = int(number)
    if parameter.minimum is not None and number < parameter.minimum:
        raise ValueProblem(f"must be at least {parameter.minimum:g}")
    if parameter.maximum is not None and number > parameter.maximum:
        raise ValueProblem(f"must be at most {parameter.maximum:g}")
    return number


def _email(parameter: Parameter, value: Any) -> str:
    text = _one_line(value, "an email address", 320)
    if not EMAIL.match(text):
        raise ValueProblem(f"{text[:80]!r} is not an email address like ann@example.com")
    return text


def _phone(parameter: Parameter, value: Any) -> str:
    text = PHONE_SEPARATORS.sub("", _one_line(value, "a phone number", 40))
    if not E164.match(text):
        raise ValueProblem("must be a phone number in international form: a plus, the country code, then the "
                           "number, like +14155550123")
    return text


def _url(parameter: Parameter, value: Any) -> str:
    text = _one_line(value, "a web address", MAX_URL)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueProblem("must be a web address starting with https:// or http://")
    return text


def _time(parameter: Parameter, value: Any) -> str:
    text = _one_line(value, "a time", 5)
    found = TIME.match(text)
    if not found:
        raise ValueProblem(f"{text!r} is not a time of day like 09:30 (24-hour clock)")
    return f"{int(found.group(1)):02d}:{found.group(2)}"


def _timezone(parameter: Parameter, value: Any) -> str:
    text = _one_line(value, "a time zone", 100)
    if text not in _zone_names():
        raise ValueProblem(f"{text[:60]!r} is not a time zone; use a name like Europe/Berlin or America/New_York")
    return text


def _cron(parameter: Parameter, value: Any) -> str:
    text = _one_line(value, "a cron expression", 200)
    problem = cron_problem(text)
    if problem:
        raise ValueProblem(problem)
    return " ".join(text.split())


def _select(parameter: Parameter, value: Any) -> str:
    allowed = [choice.value for choice in parameter.choices]
    if value not in allowed:
        raise ValueProblem(f"must be one of {', '.join(allowed)}")
    return str(value)


_CHECKS = {
    "string": _string, "text": _text, "number": _number, "email": _email, "phone": _phone, "url": _url,
    "time": _time, "timezone": _timezone, "cron": _cron, "select": _select,
}


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    # Zone names only: the system's tz folder also holds files that are not zones a person means.
    return frozenset(zoneinfo.available_timezones() - NOT_ZONES | {"UTC"})


def _one_line(value: Any, what: str, limit: int) -> str:
    if not isinstance(value, str):
        raise ValueProblem(f"must be {what}, not {_kind(value)}")
    text = value.strip()
    if len(text) > limit:
        raise ValueProblem(f"at most {limit} characters")
    if any(ch < " " or ch == "\x7f" for ch in text):
        raise ValueProblem("one line, without control characters")
    return text


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    return {str: "text", list: "a list", dict: "an object", type(None): "nothing"}.get(type(value),
                                                                                      type(value).__name__)


class TimeOfDay(str):
    """A ``time`` value as the trigger sees it at instantiation: the text ``"09:30"`` that also has ``hour`` and
    ``minute``, so a template can build a cron as ``"{{ params.at.minute }} {{ params.at.hour }} * * *"``."""

    __slots__ = ()

    @property
    def hour(self) -> int:
        return int(self[:2])

    @property
    def minute(self) -> int:
        return int(self[3:5])


def typed(parameter: Parameter, value: Any) -> Any:
    """The normalised ``value`` as templates' structural fields (trigger, timeouts) see it."""
    return TimeOfDay(value) if parameter.type == "time" and isinstance(value, str) else value
