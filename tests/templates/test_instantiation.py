"""The templates API and instantiation: the gallery, every parameter problem reported at once without writing
anything, the trigger rendered with the params while the steps keep theirs, and a params-only edit that
re-renders the definition from the template."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from automation import workflows
from automation.accounts import create_api_token, create_user
from automation.definitions import DefinitionError, Problem
from automation.models import Workflow, WorkflowVersion, Workspace, db
from automation.template_instances import instantiate
from automation.templates import library, load
from tests.templates.conftest import bearer

pytestmark = pytest.mark.storage

LEAD = {"slack": "Team Slack", "channel": "#leads", "email": "Company mail", "company_name": "Acme Inc."}
STANDUP = {"slack": "Team Slack", "teams": "Teams channel"}
DIGEST = {"report_url": "https://reports.example.com/daily", "email": "Company mail", "recipient": "team@example.com"}


@pytest.fixture
def saved(client: FlaskClient, owner: dict[str, str]) -> None:
    """Connections of three types, enough to instantiate the templates used here."""
    for name, connector, fields in (
        ("Team Slack", "slack", {"bot_token": "xoxb-instantiation-tests"}),
        ("Company mail", "smtp", {"host": "mail.example.com", "port": 587, "from_address": "relay@example.com"}),
        ("Teams channel", "teams", {"webhook_url": "https://example.webhook.office.com/webhookb2/x"}),
    ):
        response = client.post("/api/v1/connections", json={"name": name, "connector": connector, "fields": fields},
                               headers=owner)
        assert response.status_code == 201, response.get_json()


def create(client: FlaskClient, headers: dict[str, str], key: str, params: dict[str, Any], **extra: Any) -> Any:
    return client.post("/api/v1/workflows", json={"template": key, "params": params, **extra}, headers=headers)


def rows() -> tuple[int, int]:
    return (db.session.scalar(sa.select(sa.func.count()).select_from(Workflow)) or 0,
            db.session.scalar(sa.select(sa.func.count()).select_from(WorkflowVersion)) or 0)


def test_the_gallery_lists_sixteen_templates_with_their_forms(client: FlaskClient, owner: dict[str, str]) -> None:
    items = client.get("/api/v1/templates", headers=owner).get_json()["items"]

    assert len(items) == 16
    lead = next(item for item in items if item["key"] == "lead-to-slack")
    assert {k: lead[k] for k in ("name", "category", "icon", "trigger", "connectors")} == {
        "name": "New lead to Slack", "category": "Sales", "icon": "user-plus", "trigger": "webhook",
        "connectors": ["email", "slack"]}
    channel = next(p for p in lead["parameters"] if p["name"] == "channel")
    assert {k: channel[k] for k in ("label", "type", "required", "default", "choices")} == {
        "label": "Slack channel", "type": "string", "required": True, "default": "#sales", "choices": None}


def test_one_template_comes_with_its_definition_and_an_unknown_one_is_404(client: FlaskClient,
                                                                          owner: dict[str, str]) -> None:
    found = client.get("/api/v1/templates/standup-reminder", headers=owner).get_json()
    missing = client.get("/api/v1/templates/nope", headers=owner)

    days = next(p for p in found["parameters"] if p["name"] == "days")
    assert days["choices"][0] == {"value": "MON-FRI", "label": "Monday to Friday"}
    assert found["definition"]["trigger"]["schedule"]["cron"].endswith("{{ params.days }}")
    assert missing.status_code == 404


def test_every_parameter_problem_is_reported_at_once_and_nothing_is_written(
        client: FlaskClient, owner: dict[str, str], saved: None) -> None:
    response = create(client, owner, "lead-to-slack", {
        "slack": "Nope", "email": "Team Slack", "reply_hours": "soon", "colour": "red"}, name="")

    assert response.status_code == 422
    assert response.get_json()["error"]["details"] == [
        {"path": "name", "message": "required: a non-empty name"},
        {"path": "params.colour", "message": "unknown parameter; this template has: slack, channel, email, "
                                             "company_name, reply_hours"},
        {"path": "params.slack", "message": "no connection named 'Nope' in this workspace; create a slack "
                                            "connection first"},
        {"path": "params.email", "message": "'Team Slack' is a slack connection; this needs a smtp connection"},
        {"path": "params.company_name", "message": "required: Company name"},
        {"path": "params.reply_hours", "message": "must be a number, not 'soon'"},
    ]
    assert rows() == (0, 0)


def test_an_unknown_template_is_refused(client: FlaskClient, owner: dict[str, str]) -> None:
    response = create(client, owner, "no-such-template", {})

    assert response.status_code == 422
    assert response.get_json()["error"]["details"] == [
        {"path": "template", "message": "no template 'no-such-template'; GET /api/v1/templates lists them"}]
    assert rows() == (0, 0)


@pytest.mark.parametrize(("body", "message"), [
    ({"template": "lead-to-slack", "definition": {}}, "give either 'definition' or 'template', not both"),
    ({"template": "lead-to-slack", "publish": "yes"}, "'publish' must be true or false"),
    ({"template": 7}, "'template' must be a template key such as 'lead-to-slack'"),
    ({"template": "lead-to-slack", "params": []}, "'params' must be a JSON object"),
])
def test_malformed_template_requests_are_400(client: FlaskClient, owner: dict[str, str], body: dict[str, Any],
                                             message: str) -> None:
    response = client.post("/api/v1/workflows", json=body, headers=owner)

    assert (response.status_code, response.get_json()["error"]["message"]) == (400, message)


def test_a_connection_of_another_workspace_is_not_found(client: FlaskClient, owner: dict[str, str],
                                                        saved: None) -> None:
    db.session.add(Workspace(name="Other"))
    db.session.commit()
    create_user("other@example.com", "correct horse battery", "owner", workspace="Other")
    other = bearer(create_api_token("other@example.com", workspace="Other"))

    response = create(client, other, "lead-to-slack", LEAD)

    assert [d["path"] for d in response.get_json()["error"]["details"]] == ["params.slack", "params.email"]


def test_the_trigger_is_rendered_with_the_params_and_the_steps_keep_theirs(
        client: FlaskClient, owner: dict[str, str], saved: None) -> None:
    response = create(client, owner, "standup-reminder", {**STANDUP, "send_at": "7:05", "days": "*",
                                                          "timezone": "America/New_York"})

    workflow = response.get_json()
    assert response.status_code == 201
    assert (workflow["name"], workflow["status"], workflow["template"]) == ("Stand-up reminder", "draft",
                                                                           "standup-reminder")
    assert workflow["definition"]["trigger"] == {"type": "schedule", "schedule": {
        "cron": "5 7 * * *", "timezone": "America/New_York"}}
    assert workflow["definition"]["steps"][0]["with"]["channel"] == "{{ params.channel }}"
    assert workflow["params"] == {**STANDUP, "channel": "#team", "send_at": "07:05", "days": "*",
                                  "timezone": "America/New_York",
                                  "message": library()["standup-reminder"].parameter("message").default}
    assert workflow["schedule"]["description"] == "At 07:05, America/New_York"


def test_publish_true_creates_an_active_workflow(client: FlaskClient, owner: dict[str, str], saved: None) -> None:
    response = create(client, owner, "lead-to-slack", LEAD, name="Website leads", publish=True)

    workflow = response.get_json()
    assert (workflow["name"], workflow["status"], workflow["published_version"]) == ("Website leads", "active", 1)
    assert workflow["params"]["reply_hours"] == 24


def test_a_refused_publish_leaves_no_workflow_behind(client: FlaskClient, owner: dict[str, str], saved: None,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(workflow: Workflow, version_number: int | None = None, *, actor_id: int | None = None) -> Workflow:
        raise DefinitionError([Problem("definition.steps.notify.connection", "connection 'Team Slack' was deleted")])

    monkeypatch.setattr(workflows, "publish", refuse)

    response = create(client, owner, "lead-to-slack", LEAD, publish=True)

    assert response.status_code == 422
    assert rows() == (0, 0)


def test_an_empty_parameter_takes_its_default_and_an_optional_one_stays_empty(
        client: FlaskClient, owner: dict[str, str], saved: None) -> None:
    digest = create(client, owner, "daily-digest", {**DIGEST, "title": ""}).get_json()
    welcome = create(client, owner, "welcome-series", {"email": "Company mail", "product_name": "Acme"}).get_json()

    assert (digest["params"]["title"], digest["params"]["timezone"]) == ("Daily digest", "UTC")
    assert (welcome["params"]["help_url"], welcome["params"]["follow_up_days"]) == (None, 3)


def test_a_params_only_edit_re_renders_the_template_so_the_schedule_follows(
        client: FlaskClient, owner: dict[str, str], saved: None) -> None:
    workflow = create(client, owner, "daily-digest", DIGEST, publish=True).get_json()

    edited = client.patch(f"/api/v1/workflows/{workflow['id']}", json={"params": {"send_at": "06:15"}}, headers=owner)
    published = client.post(f"/api/v1/workflows/{workflow['id']}/publish", headers=owner).get_json()

    assert edited.status_code == 200
    assert edited.get_json()["version"] == 2
    assert edited.get_json()["params"] == {**workflow["params"], "send_at": "06:15"}
    assert published["schedule"]["cron"] == "15 6 * * MON-FRI"
    reset = client.patch(f"/api/v1/workflows/{workflow['id']}", json={"params": {"send_at": None}}, headers=owner)
    assert reset.get_json()["definition"]["trigger"]["schedule"]["cron"] == "0 8 * * MON-FRI"


def test_a_bad_params_edit_is_refused_and_saves_no_version(client: FlaskClient, owner: dict[str, str],
                                                          saved: None) -> None:
    workflow = create(client, owner, "daily-digest", DIGEST).get_json()

    response = client.patch(f"/api/v1/workflows/{workflow['id']}", json={"params": {
        "send_at": "25:00", "recipient": "nobody", "extra": 1}}, headers=owner)

    assert response.status_code == 422
    assert [d["path"] for d in response.get_json()["error"]["details"]] == [
        "params.extra", "params.recipient", "params.send_at"]
    assert rows() == (1, 1)


def test_a_definition_edited_by_hand_is_kept_by_later_params_edits(client: FlaskClient, owner: dict[str, str],
                                                                  saved: None) -> None:
    workflow = create(client, owner, "daily-digest", DIGEST).get_json()
    own = {**workflow["definition"], "trigger": {"type": "schedule", "schedule": {"cron": "0 12 * * *"}}}

    by_hand = client.patch(f"/api/v1/workflows/{workflow['id']}", json={"definition": own}, headers=owner).get_json()
    later = client.patch(f"/api/v1/workflows/{workflow['id']}", json={"params": {**workflow["params"],
                                                                                 "send_at": "06:00"}},
                         headers=owner).get_json()

    assert by_hand["template"] is None
    assert later["definition"] == own
    assert later["params"]["send_at"] == "06:00"


ZONED = """
key: zoned
name: Zoned
description: A schedule in a zone typed as plain text.
category: Tests
icon: clock
parameters:
  - {name: zone, label: Zone, help: A zone., type: string, required: true, example: UTC}
definition:
  trigger: {type: schedule, schedule: {cron: "0 9 * * *", timezone: "{{ params.zone }}"}}
  steps: [{id: a, uses: core.set, with: {x: 1}}]
"""


@pytest.mark.parametrize(("zone", "message"), [
    ("Mars/Olympus", "unknown time zone 'Mars/Olympus' (use a name like Europe/Berlin)"),
    # Rendered into the trigger, markup would be rendered again by code that reads the trigger.
    ("{{ 7 * 7 }}", "must not contain {{ or {%"),
])
def test_a_problem_of_a_rendered_trigger_is_reported_on_the_parameter_it_came_from(zone: str, message: str) -> None:
    with pytest.raises(DefinitionError) as refused:
        instantiate(load("zoned", ZONED), {"zone": zone}, lookup=None)

    assert [(p.path, p.message) for p in refused.value.problems] == [("params.zone", message)]
