"""Expressions render in a sandbox: native values for lone expressions, text otherwise, clear errors
naming where the expression lives, and every escape or bomb refused quickly."""

from __future__ import annotations

import time
import tracemalloc
from datetime import UTC, datetime

import pytest

from automation.expressions import ExpressionError, Renderer

CONTEXT = {
    "params": {"channel": "#sales", "threshold": 1000},
    "trigger": {"body": {"name": "ada", "amount": "1500.5", "items": [1, 2, 3], "vip": False}},
    "steps": {"lead": {"status": "succeeded", "output": {"email": "ada@example.com"}}},
    "execution": {"id": 7},
    "now": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
}


@pytest.fixture
def renderer() -> Renderer:
    return Renderer(timeout=1.0, max_chars=10_000)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ trigger.body.items | length }}", 3),
        ("{{ trigger.body.amount | float }}", 1500.5),
        ("{{ trigger.body.items }}", [1, 2, 3]),
        ("{{ {'a': params.threshold} }}", {"a": 1000}),
        ("  {{ trigger.body.vip }}  ", False),
        ("{{ none }}", None),
    ],
)
def test_a_lone_expression_gives_its_native_value(renderer, template, expected):
    assert renderer.render(template, CONTEXT, "x") == expected


def test_text_with_expressions_renders_to_a_string(renderer):
    assert renderer.render("New lead: {{ trigger.body.name | title }} in {{ params.channel }}", CONTEXT, "x") == (
        "New lead: Ada in #sales"
    )


def test_payload_keys_win_over_dict_methods(renderer):
    context = {"trigger": {"body": {"items": [1], "keys": "k", "values": 2}}}
    assert renderer.render("{{ trigger.body.items }} {{ trigger.body.keys }} {{ trigger.body.values }}", context,
                           "x") == "[1] k 2"


def test_mappings_and_lists_are_rendered_recursively_and_plain_values_pass_through(renderer):
    value = {"to": ["{{ steps.lead.output.email }}", "boss@example.com"], "n": 5, "flag": True}
    assert renderer.render(value, CONTEXT, "x") == {"to": ["ada@example.com", "boss@example.com"], "n": 5,
                                                    "flag": True}


def test_now_and_dates_can_be_formatted(renderer):
    assert renderer.render("{{ now.strftime('%Y-%m-%d') }}", CONTEXT, "x") == "2026-01-02"
    assert renderer.render("{{ ('2026-05-01T10:00:00Z' | parse_datetime).year }}", CONTEXT, "x") == 2026


def test_json_text_can_be_parsed(renderer):
    assert renderer.render("{{ ('{\"a\": [1]}' | fromjson).a }}", CONTEXT, "x") == [1]


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ trigger.body.amount | float > params.threshold }}", True),
        ("{{ trigger.body.vip }}", False),
        ("false", False), ("No", False), ("0", False), ("", False), ("off", False), ("null", False),
        ("yes", True), ("{{ trigger.body.name }}", True), (True, True), (None, False),
    ],
)
def test_condition_truthiness(renderer, template, expected):
    assert renderer.condition(template, CONTEXT, "x") is expected


def test_undefined_name_error_names_the_location_and_the_name(renderer):
    with pytest.raises(ExpressionError) as excinfo:
        renderer.render({"text": "Hi {{ trigger.body.nmae }}"}, CONTEXT, "steps.greet.with")
    assert excinfo.value.location == "steps.greet.with.text"
    assert "nmae" in excinfo.value.message


def test_location_includes_list_indexes(renderer):
    with pytest.raises(ExpressionError) as excinfo:
        renderer.render({"to": ["ok", "{{ missing }}"]}, CONTEXT, "steps.mail.with")
    assert excinfo.value.location == "steps.mail.with.to[1]"


@pytest.mark.parametrize("template", ["{{ 1 / 0 }}", "{{ trigger.body.items + 1 }}", "{{ 'x' | int + [] }}"])
def test_expressions_that_raise_become_expression_errors(renderer, template):
    with pytest.raises(ExpressionError):
        renderer.render(template, CONTEXT, "steps.a.with.x")


@pytest.mark.parametrize(
    "payload",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ ''.__class__.__base__.__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ joiner.__init__.__globals__.os }}",
        "{{ lipsum.__globals__['os'].popen('id').read() }}",
        "{{ self._TemplateReference__context }}",
        "{{ self.__init__.__globals__ }}",
        "{{ request }}",
        "{{ config }}",
        "{{ [].pop() }}",
        "{% set x = trigger.body.items.append(4) %}",
        "{{ trigger.__class__ }}",
        "{{ namespace.__init__.__globals__ }}",
    ],
)
def test_template_injection_payloads_fail_and_never_execute(renderer, payload):
    with pytest.raises(ExpressionError):
        renderer.render(payload, CONTEXT, "steps.a.with.x")
    assert CONTEXT["trigger"]["body"]["items"] == [1, 2, 3]


@pytest.mark.parametrize(
    "bomb",
    [
        "{{ ('a' * 10**8) }}",
        "{{ 'a' * 10**8 }}",
        "{{ [0] * 10**8 }}",
        "{{ 10 ** 100000 }}",
        "{{ range(10**9) | list }}",
        "{{ 'x' | center(10**8) }}",
        "{{ 'x'.ljust(10**8) }}",
        "{{ 'ab' | replace('a', 'a' * 9999) | replace('a', 'a' * 9999) }}",
        "{{ '%99999999d' % 1 }}",
        "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    ],
)
def test_output_and_cpu_bombs_fail_fast_with_a_clear_error(renderer, bomb):
    started = time.monotonic()
    with pytest.raises(ExpressionError) as excinfo:
        renderer.render(bomb, CONTEXT, "steps.a.with.x")
    assert time.monotonic() - started < 1.5
    assert any(word in excinfo.value.message for word in ("too large", "longer than", "Range too big"))


@pytest.mark.parametrize("wide", ["{{ '{:99999999}'.format(1) }}", "{{ '{:{}}'.format(1, 99999999) }}"])
def test_a_huge_format_width_is_refused_before_the_text_is_built(renderer, wide):
    tracemalloc.start()
    try:
        with pytest.raises(ExpressionError) as excinfo:
            renderer.render(wide, CONTEXT, "steps.a.with.x")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "too large" in excinfo.value.message
    assert peak < 10_000_000


def test_syntax_errors_are_found_without_rendering(renderer):
    problems = renderer.check({"a": "{{ oops ", "b": "fine {{ x }}"}, "steps[0].with")
    assert len(problems) == 1
    assert problems[0].startswith("steps[0].with.a: invalid expression")


def test_step_references_are_found_in_both_spellings(renderer):
    refs = renderer.step_references({"a": "{{ steps.lead.output.x }}", "b": ["{{ steps['mail'].status }}"]})
    assert refs == {"lead", "mail"}
