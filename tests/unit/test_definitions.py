"""Definitions are validated with every problem reported at its path, and parsed into what the engine runs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from automation.definitions import DefinitionError, Problem, Retry, load_text, parse, validate
from integrations import registry
from integrations.base import Action, Connector
from integrations.registry import register, unregister


class FakeSlack(Connector):
    key = "slack"
    title = "Slack"
    connection_type = "slack"
    actions = (Action("post_message", "Post a message", {
        "type": "object", "required": ["channel", "text"],
        "properties": {"channel": {"type": "string"}, "text": {"type": "string"}, "blocks": {"type": "array"}},
        "additionalProperties": False,
    }),)


@pytest.fixture(autouse=True)
def slack():
    """A stand-in slack.post_message unless the real connector is registered."""
    if registry.find_action("slack.post_message"):
        yield
        return
    register(FakeSlack())
    yield
    unregister(FakeSlack.key)


DESIGN_EXAMPLE = """
trigger:
  type: webhook
steps:
  - id: notify
    uses: slack.post_message
    connection: "{{ params.slack }}"
    with:
      channel: "{{ params.channel }}"
      text: "New lead: {{ trigger.body.name }} ({{ trigger.body.email }})"
    if: "{{ trigger.body.amount | float > 1000 }}"
    retry: {attempts: 3, backoff: 10s}
    timeout: 30s
"""


def steps(*items):
    return {"trigger": {"type": "manual"}, "steps": list(items)}


def test_the_design_example_parses_into_steps_with_policies():
    definition = parse(load_text(DESIGN_EXAMPLE))
    step = definition.steps[0]
    assert definition.trigger.type == "webhook"
    assert (step.id, step.uses, step.connection) == ("notify", "slack.post_message", "{{ params.slack }}")
    assert step.retry == Retry(attempts=3, backoff=timedelta(seconds=10))
    assert step.timeout == timedelta(seconds=30)
    assert definition.step("notify") is step


def test_schedule_triggers_parse_cron_and_interval():
    cron = parse({"trigger": {"type": "schedule", "schedule": {"cron": "0 9 * * MON-FRI",
                                                               "timezone": "Europe/Berlin"}},
                  "steps": [{"id": "a", "uses": "core.set"}]})
    every = parse({"trigger": {"type": "schedule", "schedule": {"every": "15m"}},
                   "steps": [{"id": "a", "uses": "core.set"}]})
    assert (cron.trigger.schedule.cron, cron.trigger.schedule.timezone) == ("0 9 * * MON-FRI", "Europe/Berlin")
    assert (every.trigger.schedule.every, every.trigger.schedule.timezone) == (timedelta(minutes=15), "UTC")


@pytest.mark.parametrize(
    ("definition", "problem"),
    [
        (steps({"id": "a", "uses": "slak.post_message", "with": {}}),
         Problem("steps[0].uses", "unknown action 'slak.post_message' (did you mean 'slack.post_message'?)")),
        (steps({"id": "a", "uses": "slack.post_message", "with": {"text": "hi"}}),
         Problem("steps[0].with.channel", "required")),
        (steps({"id": "a", "uses": "slack.post_message", "with": {"channel": "#x", "text": "t", "colour": 1}}),
         Problem("steps[0].with.colour", "unknown field")),
        (steps({"id": "a", "uses": "slack.post_message", "with": {"channel": 5, "text": "t"}}),
         Problem("steps[0].with.channel", "5 is not of type 'string'")),
        (steps({"id": "a", "uses": "slack.post_message", "with": {"channel": "#x", "text": "t"}}),
         Problem("steps[0].connection", "required: the name of a slack connection for slack.post_message")),
        (steps({"id": "a", "uses": "core.set", "connection": "Slack"}),
         Problem("steps[0].connection", "core.set does not use a connection")),
        (steps({"id": "a", "uses": "core.set"}, {"id": "a", "uses": "core.set"}),
         Problem("steps[1].id", "duplicate step id 'a'")),
        (steps({"id": "a", "uses": "core.set", "with": {"x": "{{ steps.b.output }}"}}, {"id": "b", "uses": "core.set"}),
         Problem("steps[0].with.x", "refers to step 'b' which runs after this one")),
        (steps({"id": "a", "uses": "core.set", "with": {"x": "{{ steps['ghost'].output }}"}}),
         Problem("steps[0].with.x", "refers to unknown step 'ghost'")),
        (steps({"id": "a", "uses": "core.set", "with": {"x": "{{ oops "}}),
         Problem("steps[0].with.x", "invalid expression: unexpected end of template, expected 'end of print "
                                    "statement'. (line 1)")),
        (steps({"id": "a", "uses": "core.delay", "with": {"for": "soon"}}),
         Problem("steps[0].with.for", "expected a duration like '30s', '15m' or '2h', got 'soon'")),
        (steps({"id": "a", "uses": "core.set", "timeout": "2h"}),
         Problem("steps[0].timeout", "must be more than 0s and at most 1h")),
        (steps({"id": "a", "uses": "core.set", "retry": {"attempts": 50}}),
         Problem("steps[0].retry.attempts", "must be a whole number from 1 to 10")),
        (steps({"id": "Bad-Id", "uses": "core.set"}),
         Problem("steps[0].id", "required: lowercase letters, digits and _, starting with a letter")),
        (steps({"id": "a", "uses": "core.set", "wiht": {}}), Problem("steps[0].wiht", "unknown field")),
        (steps({"id": "a", "uses": "core.filter", "with": {}}), Problem("steps[0].with.condition", "required")),
        (steps({"id": "a", "uses": "core.set", "steps": [{"id": "b", "uses": "core.set"}]}),
         Problem("steps[0].steps", "only core.for_each has nested steps")),
        ({"trigger": {"type": "schedule", "schedule": {"cron": "61 * * * *"}},
          "steps": [{"id": "a", "uses": "core.set"}]},
         Problem("trigger.schedule.cron", "'61 * * * *' is not a valid cron expression: the minute field is not valid "
                                            "(allowed: 0-59, *, lists, ranges, steps)")),
        ({"trigger": {"type": "schedule", "schedule": {"cron": "* * *"}}, "steps": [{"id": "a", "uses": "core.set"}]},
         Problem("trigger.schedule.cron", "needs 5 fields (minute hour day-of-month month day-of-week), got 3")),
        ({"trigger": {"type": "schedule", "schedule": {"every": "15m", "timezone": "Mars/Olympus"}},
          "steps": [{"id": "a", "uses": "core.set"}]},
         Problem("trigger.schedule.timezone", "unknown time zone 'Mars/Olympus' (use a name like Europe/Berlin)")),
        ({"trigger": {"type": "schedule", "schedule": {"every": "0s"}}, "steps": [{"id": "a", "uses": "core.set"}]},
         Problem("trigger.schedule.every", "must be at least 1s")),
        ({"trigger": {"type": "schedule"}, "steps": [{"id": "a", "uses": "core.set"}]},
         Problem("trigger.schedule", "required: {cron: '0 9 * * MON-FRI', timezone: ...} or {every: '15m'}")),
        ({"trigger": {"type": "cron"}, "steps": [{"id": "a", "uses": "core.set"}]},
         Problem("trigger.type", "must be one of webhook, schedule, manual")),
        ({"trigger": {"type": "manual"}, "steps": []}, Problem("steps", "required: a list with at least one step")),
        ([1, 2], Problem("", "a definition is a mapping with 'trigger' and 'steps', not a list")),
        (None, Problem("", "a definition is a mapping with 'trigger' and 'steps', not nothing")),
    ],
)
def test_each_problem_is_reported_at_its_path(definition, problem):
    assert problem in validate(definition)


def test_an_expression_may_stand_for_any_type():
    assert validate(steps({"id": "a", "uses": "slack.post_message", "connection": "Slack",
                           "with": {"channel": "#x", "text": "t", "blocks": "{{ trigger.body.blocks }}"}})) == []


def test_every_problem_is_reported_at_once():
    definition = {"trigger": {"type": "nope"}, "steps": [
        {"id": "a", "uses": "nope.nothing"},
        {"id": "a", "uses": "core.delay", "with": {"for": "later"}},
        {"id": "c", "uses": "core.set", "with": {"x": "{{ steps.zzz.output }}"}},
    ]}
    with pytest.raises(DefinitionError) as excinfo:
        parse(definition)
    paths = [p.path for p in excinfo.value.problems]
    assert paths == ["trigger.type", "steps[0].uses", "steps[1].id", "steps[1].with.for", "steps[2].with.x"]
    assert "steps[1].id: duplicate step id 'a'" in str(excinfo.value)


def test_yaml_syntax_errors_say_where():
    with pytest.raises(DefinitionError) as excinfo:
        load_text("trigger:\n  type: manual\nsteps: [\n")
    assert "line" in str(excinfo.value)


def test_retry_delay_grows_and_is_capped():
    retry = Retry(attempts=5, backoff=timedelta(seconds=10), factor=3, max_backoff=timedelta(seconds=60))
    assert [retry.delay(n).total_seconds() for n in (1, 2, 3)] == [10, 30, 60]
