"""Template parameter types: what each accepts, how it is normalised, and what it says when refused."""

from __future__ import annotations

from typing import Any

import pytest

from automation.template_params import Choice, Parameter, ValueProblem, normalise, typed


def param(kind: str, **options: Any) -> Parameter:
    return Parameter(name="p", label="P", help="h", type=kind, **options)


@pytest.mark.parametrize(("kind", "options", "given", "stored"), [
    ("string", {}, "  #sales ", "#sales"),
    ("string", {"pattern": "[a-z.]+"}, "contact.created", "contact.created"),
    ("text", {}, "line one\r\nline two\n", "line one\nline two"),
    ("number", {}, 15, 15),
    ("number", {}, "2.5", 2.5),
    ("number", {}, 3.0, 3),
    ("number", {"integer": True, "minimum": 1, "maximum": 60}, "15", 15),
    ("email", {}, " ann@example.com ", "ann@example.com"),
    ("phone", {}, "+49 151 1234-5678", "+4915112345678"),
    ("url", {}, "https://example.com/hook?x=1", "https://example.com/hook?x=1"),
    ("time", {}, "9:05", "09:05"),
    ("time", {}, "23:59", "23:59"),
    ("timezone", {}, "Europe/Berlin", "Europe/Berlin"),
    ("cron", {}, "0  9 * * MON-FRI", "0 9 * * MON-FRI"),
    ("select", {"choices": (Choice("a", "A"), Choice("b", "B"))}, "b", "b"),
    ("connection:slack", {}, " Team Slack ", "Team Slack"),
])
def test_accepted_values_are_normalised(kind: str, options: dict[str, Any], given: Any, stored: Any) -> None:
    assert normalise(param(kind, **options), given) == stored


@pytest.mark.parametrize(("kind", "options", "given", "message"), [
    ("string", {}, "two\nlines", "one line, without control characters"),
    ("string", {}, 42, "must be text, not a number"),
    ("string", {"pattern": "[a-z.]+"}, "Not Valid", "must match [a-z.]+"),
    ("text", {}, ["a"], "must be text, not a list"),
    ("number", {}, "ten", "must be a number, not 'ten'"),
    ("number", {}, True, "must be a number, not true/false"),
    ("number", {"integer": True}, 2.5, "must be a whole number"),
    ("number", {"minimum": 1}, 0, "must be at least 1"),
    ("number", {"maximum": 60}, 61, "must be at most 60"),
    ("email", {}, "ann@", "'ann@' is not an email address like ann@example.com"),
    ("email", {}, "a@example.com, b@example.com", "is not an email address"),
    ("phone", {}, "0151 12345678", "must be a phone number in international form"),
    ("url", {}, "ftp://example.com/x", "must be a web address starting with https:// or http://"),
    ("url", {}, "https://", "must be a web address"),
    ("time", {}, "24:00", "'24:00' is not a time of day like 09:30 (24-hour clock)"),
    ("time", {}, "9.30", "is not a time of day"),
    ("timezone", {}, "Mars/Olympus", "'Mars/Olympus' is not a time zone"),
    ("timezone", {}, "localtime", "is not a time zone"),
    ("cron", {}, "0 9 * *", "needs 5 fields"),
    ("cron", {}, "61 * * * *", "the minute field is not valid"),
    ("select", {"choices": (Choice("a", "A"), Choice("b", "B"))}, "c", "must be one of a, b"),
    ("connection:slack", {}, {"id": 1}, "must be the name of a saved connection, not an object"),
])
def test_refused_values_say_what_would_fit(kind: str, options: dict[str, Any], given: Any, message: str) -> None:
    with pytest.raises(ValueProblem) as refused:
        normalise(param(kind, **options), given)
    assert message in str(refused.value)


def test_a_time_reads_as_hour_and_minute_where_the_trigger_is_built() -> None:
    at = typed(param("time"), "07:05")

    assert (at, at.hour, at.minute) == ("07:05", 7, 5)
    assert typed(param("number"), 5) == 5


def test_a_connection_parameter_names_its_connection_type() -> None:
    assert (param("connection:twilio").connection_type, param("string").connection_type) == ("twilio", None)
