"""connection_usage: which published workflows name a connection, however they name it."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from automation import connections, workflows
from automation.accounts import default_workspace
from automation.connection_usage import WorkflowUse, active_users, connection_users
from automation.models import Workflow, Workspace, db

pytestmark = pytest.mark.storage

SLACK = {"bot_token": "xoxb-1234-5678-abcdefghijklmnop"}
SECRET = {"secret": "whsec_" + base64.b64encode(b"k" * 32).decode()}


def slack_step(reference: str, step_id: str = "say") -> dict[str, Any]:
    return {"id": step_id, "uses": "slack.post_message", "connection": reference,
            "with": {"channel": "#sales", "text": "hi"}}


def definition(*steps: dict[str, Any], trigger: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"trigger": trigger or {"type": "manual"}, "steps": list(steps)}


@pytest.fixture
def workspace(app: Flask) -> Iterator[int]:
    with app.app_context():
        workspace = default_workspace()
        assert workspace is not None
        yield workspace.id


def workflow(workspace: int, name: str, body: dict[str, Any], *, params: dict[str, Any] | None = None,
             publish: bool = True) -> int:
    created = workflows.create_workflow(workspace, name, body, params=params)
    if publish:
        workflows.publish(created)
    return created.id


def test_a_step_naming_the_connection_by_name_uses_it(workspace):
    slack = connections.create_connection(workspace, "Team Slack", "slack", SLACK)
    leads = workflow(workspace, "Leads", definition(slack_step("Team Slack")))

    assert connection_users(workspace) == {slack.id: [WorkflowUse(leads, "Leads", "active")]}


def test_a_reference_through_params_and_by_id_is_rendered(workspace):
    slack = connections.create_connection(workspace, "Team Slack", "slack", SLACK)
    by_param = workflow(workspace, "By param", definition(slack_step("{{ params.slack }}")),
                        params={"slack": "Team Slack"})
    by_id = workflow(workspace, "By id", definition(slack_step(str(slack.id))))

    assert [use.id for use in connection_users(workspace)[slack.id]] == [by_id, by_param]


def test_nested_steps_and_webhook_verification_count(workspace):
    slack = connections.create_connection(workspace, "Team Slack", "slack", SLACK)
    secret = connections.create_connection(workspace, "Signing", "webhook_secret", SECRET)
    loop = {"id": "each", "uses": "core.for_each", "with": {"items": "{{ trigger.body.items }}"},
            "steps": [slack_step("Team Slack", "inner")]}
    hook = workflow(workspace, "Hook", definition(loop, trigger={
        "type": "webhook", "verify": {"scheme": "hmac_sha256", "connection": "Signing", "header": "X-Sig"}}))

    users = connection_users(workspace)
    assert [use.id for use in users[slack.id]] == [hook]
    assert [use.id for use in users[secret.id]] == [hook]


def test_drafts_references_only_a_run_can_resolve_and_other_workspaces_do_not_count(workspace):
    slack = connections.create_connection(workspace, "Team Slack", "slack", SLACK)
    workflow(workspace, "Draft", definition(slack_step("Team Slack")), publish=False)
    workflow(workspace, "From the trigger", definition(slack_step("{{ trigger.body.connection }}")))
    other = Workspace(name="Other")
    db.session.add(other)
    db.session.commit()
    connections.create_connection(other.id, "Team Slack", "slack", SLACK)
    workflow(other.id, "Elsewhere", definition(slack_step("Team Slack")))

    assert connection_users(workspace) == {}
    assert slack.id not in connection_users(other.id)


def test_active_users_leaves_paused_workflows_out(workspace):
    slack = connections.create_connection(workspace, "Team Slack", "slack", SLACK)
    active = workflow(workspace, "Active", definition(slack_step("Team Slack")))
    paused = workflow(workspace, "Paused", definition(slack_step("Team Slack")))
    workflows.pause(db.session.get(Workflow, paused))

    assert [use.id for use in connection_users(workspace)[slack.id]] == [active, paused]
    assert active_users(workspace, slack.id) == [WorkflowUse(active, "Active", "active")]
