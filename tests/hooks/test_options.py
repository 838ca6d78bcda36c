"""Saving a definition checks the webhook trigger's ``verify``, ``response`` and ``dedupe`` options and lists
every problem with its path; those options belong to webhook triggers only."""

from __future__ import annotations

from typing import Any

import pytest

from automation.definitions import validate
from tests.hooks.conftest import STEPS, webhook


def problems(definition: dict[str, Any]) -> dict[str, str]:
    return {p.path: p.message for p in validate(definition)}


@pytest.mark.parametrize("trigger", [
    {"verify": {"scheme": "standard_webhooks", "connection": "sender"}},
    {"verify": {"scheme": "shared_secret", "connection": "token", "header": "Authorization", "prefix": "Bearer "}},
    {"verify": {"scheme": "hmac_sha256", "connection": "gh", "header": "X-Hub-Signature-256", "prefix": "sha256="}},
    {"verify": {"scheme": "hmac_sha256", "connection": "{{ params.secret }}", "header": "X-Signature",
                "encoding": "base64", "timestamp_header": "X-Timestamp", "tolerance": "2m"}},
    {"response": {"mode": "accepted"}},
    {"response": {"mode": "wait", "step": "echo", "timeout": "10s"}},
    {"dedupe": False},
    {"dedupe": {"header": "X-Shopify-Webhook-Id"}},
])
def test_valid_webhook_options_have_no_problems(trigger):
    assert problems(webhook(**trigger)) == {}


@pytest.mark.parametrize(("trigger", "expected"), [
    ({"verify": "hmac"}, {"trigger.verify": "must be a mapping"}),
    ({"verify": {"connection": "x"}}, {"trigger.verify.scheme": "required: one of"}),
    ({"verify": {"scheme": "md5", "connection": "x"}}, {"trigger.verify.scheme": "required: one of"}),
    ({"verify": {"scheme": "shared_secret"}}, {"trigger.verify.connection": "required"}),
    ({"verify": {"scheme": "shared_secret", "connection": "x", "secret": "hunter2"}},
     {"trigger.verify.secret": "unknown field for the shared_secret scheme"}),
    ({"verify": {"scheme": "standard_webhooks", "connection": "x", "header": "X-Sig"}},
     {"trigger.verify.header": "unknown field for the standard_webhooks scheme"}),
    ({"verify": {"scheme": "hmac_sha256", "connection": "x"}}, {"trigger.verify.header": "required"}),
    ({"verify": {"scheme": "hmac_sha256", "connection": "x", "header": "X Sig: 1"}},
     {"trigger.verify.header": "HTTP header name"}),
    ({"verify": {"scheme": "hmac_sha256", "connection": "x", "header": "X-Sig", "encoding": "base32"}},
     {"trigger.verify.encoding": "hex, base64"}),
    ({"verify": {"scheme": "hmac_sha256", "connection": "x", "header": "X-Sig", "tolerance": "5m"}},
     {"trigger.verify.tolerance": "only used with a timestamp_header"}),
    ({"verify": {"scheme": "hmac_sha256", "connection": "x", "header": "X-Sig", "timestamp_header": "X-T",
                 "tolerance": "3h"}}, {"trigger.verify.tolerance": "at most 1h"}),
    ({"verify": {"scheme": "shared_secret", "connection": "{{ params.x "}},
     {"trigger.verify.connection": "invalid expression"}),
    ({"response": {"mode": "eventually"}}, {"trigger.response.mode": "accepted, wait"}),
    ({"response": {"mode": "wait"}}, {"trigger.response.step": "required"}),
    ({"response": {"mode": "wait", "step": "nope"}}, {"trigger.response.step": "no top-level step"}),
    ({"response": {"mode": "wait", "step": "echo", "timeout": "0s"}}, {"trigger.response.timeout": "more than 0s"}),
    ({"response": {"mode": "wait", "step": "echo", "timeout": "soon"}}, {"trigger.response.timeout": "duration"}),
    ({"response": {"mode": "accepted", "step": "echo"}}, {"trigger.response.step": "only the wait mode"}),
    ({"dedupe": "yes"}, {"trigger.dedupe": "must be true"}),
    ({"dedupe": {"header": ""}}, {"trigger.dedupe.header": "HTTP header name"}),
])
def test_invalid_webhook_options_are_reported_at_their_path(trigger, expected):
    found = problems(webhook(**trigger))

    assert set(found) == set(expected)
    for path, text in expected.items():
        assert text in found[path]


def test_every_problem_is_reported_at_once():
    found = problems(webhook(verify={"scheme": "hmac_sha256"}, response={"mode": "wait"}, dedupe=1))

    assert set(found) == {"trigger.verify.connection", "trigger.verify.header", "trigger.response.step",
                          "trigger.dedupe"}


@pytest.mark.parametrize("kind", ["manual", "schedule"])
def test_webhook_options_on_another_trigger_are_refused(kind):
    trigger = {"type": kind, "response": {"mode": "accepted"}, "dedupe": False}
    if kind == "schedule":
        trigger["schedule"] = {"every": "15m"}

    found = problems({"trigger": trigger, "steps": STEPS})

    assert found == {"trigger.response": "only a webhook trigger has 'response'",
                     "trigger.dedupe": "only a webhook trigger has 'dedupe'"}


def test_the_api_refuses_bad_options_with_422_and_their_paths(client, owner):
    definition = webhook(verify={"scheme": "shared_secret"}, response={"mode": "wait", "step": "nope"})

    response = client.post("/api/v1/workflows", json={"name": "Hook", "definition": definition}, headers=owner)

    assert response.status_code == 422
    assert [d["path"] for d in response.get_json()["error"]["details"]] == [
        "definition.trigger.verify.connection", "definition.trigger.response.step"]
