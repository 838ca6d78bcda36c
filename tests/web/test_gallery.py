"""The template gallery, a template's setup form, creating a workflow from it, and the schedule preview."""

from __future__ import annotations

import html
import re
from dataclasses import replace

import pytest
import sqlalchemy as sa

from automation import connections
from automation.models import Membership, Workflow, db
from automation.template_params import Parameter
from automation.templates import library
from automation.web.pages import gallery
from tests.web.conftest import field_error, rows, submit

pytestmark = pytest.mark.storage

SLACK = {"bot_token": "xoxb-" + "1" * 24}
SMTP = {"host": "smtp.example.com", "from_address": "hello@example.com"}
LEAD = {"name": "Leads from the website", "publish": "on", "param-slack": "Team Slack", "param-channel": "#leads",
        "param-email": "Company mail", "param-company_name": "Acme Inc.", "param-reply_hours": "12"}


def visible_cards(page: str) -> list[str]:
    """Names of the template cards that are not hidden."""
    return re.findall(r'<li class="card template-card"[^>]*?(?<!hidden)>\s*<span[^>]*>[^<]*</span>\s*'
                      r'<h2><a href="[^"]+">([^<]+)</a>', page)


def input_tag(page: str, name: str) -> str:
    found = re.search(rf'<(input|select|textarea) id="f-{re.escape(name)}"[^>]*>', page)
    assert found, f"no input {name!r} on the page"
    return " ".join(found.group(0).split())


def add_connections(app, *specs: tuple[str, str, dict]) -> None:
    def create() -> None:
        workspace_id = db.session.scalar(sa.select(Membership.workspace_id).limit(1))
        for name, kind, fields in specs:
            connections.create_connection(workspace_id, name, kind, fields)

    rows(app, create)


def workflows(app) -> list[tuple[int, str, str, str | None, dict]]:
    return rows(app, lambda: [(w.id, w.name, w.status, w.template_key, w.params)
                              for w in db.session.scalars(sa.select(Workflow).order_by(Workflow.id))])


def test_the_gallery_shows_every_template_with_its_description(owner_client, app):
    page = owner_client.get("/templates").get_data(as_text=True)

    templates = rows(app, lambda: list(library().values()))
    assert len(templates) == 16
    assert sorted(visible_cards(page)) == sorted(t.name for t in templates)
    for template in templates:
        assert template.description in html.unescape(page)
    assert "Uses Email (SMTP), Slack" in page


def test_the_gallery_filters_by_category_and_searches_every_word(owner_client):
    finance = owner_client.get("/templates?category=Finance").get_data(as_text=True)
    assert sorted(visible_cards(finance)) == ["Expense approval", "Failed payment follow-up",
                                              "Overdue invoice reminders"]
    assert "3 of 16 templates" in finance

    search = owner_client.get("/templates?q=Lead+SLACK+thank").get_data(as_text=True)
    assert visible_cards(search) == ["New lead to Slack"]

    nothing = owner_client.get("/templates?category=Finance&q=stand-up").get_data(as_text=True)
    assert visible_cards(nothing) == []
    assert re.search(r"data-gallery-empty\s*>", nothing)


def test_the_setup_form_has_an_input_of_the_right_kind_for_each_parameter(owner_client, app):
    add_connections(app, ("Team Slack", "slack", SLACK))
    page = owner_client.get("/templates/standup-reminder").get_data(as_text=True)

    assert 'type="time"' in input_tag(page, "param-send_at") and 'value="09:45"' in input_tag(page, "param-send_at")
    assert input_tag(page, "param-timezone").startswith("<select")
    assert '<option value="Europe/Berlin"' in page and '<option value="UTC" selected>' in page
    assert input_tag(page, "param-message").startswith("<textarea")
    assert '<option value="MON-FRI" selected>Monday to Friday</option>' in page
    # The only Slack connection is chosen; there is no Teams connection yet, and the form says so.
    assert '<option value="Team Slack" selected>Team Slack</option>' in page
    assert "You have no Microsoft Teams connection yet." in page
    assert 'href="/connections/new?connector=teams&amp;next=/templates/standup-reminder"' in page
    assert 'value="Stand-up reminder"' in input_tag(page, "name")
    assert "checked" in input_tag(page, "publish")

    lead = owner_client.get("/templates/lead-to-slack").get_data(as_text=True)
    hours = input_tag(lead, "param-reply_hours")
    assert all(part in hours for part in ('type="number"', 'min="1"', 'max="168"', 'step="1"', 'value="24"'))


def test_phone_email_and_url_parameters_get_tel_email_and_url_inputs(owner_client):
    paging = owner_client.get("/templates/incident-paging").get_data(as_text=True)
    expense = owner_client.get("/templates/expense-approval").get_data(as_text=True)

    types = set(re.findall(r'<input id="f-param-[^"]+" name="[^"]+" type="([^"]+)"', paging + expense))
    assert {"tel", "email", "url"} <= types
    assert "International form: a plus, the country code" in paging


def test_submitting_the_form_creates_a_published_workflow_and_opens_it(owner_client, app):
    add_connections(app, ("Team Slack", "slack", SLACK), ("Company mail", "smtp", SMTP))

    response = submit(owner_client, "/templates/lead-to-slack", LEAD)

    [(workflow_id, name, status, template, params)] = workflows(app)
    assert (response.status_code, response.headers["Location"]) == (302, f"/workflows/{workflow_id}")
    assert (name, status, template) == ("Leads from the website", "active", "lead-to-slack")
    assert params == {"slack": "Team Slack", "channel": "#leads", "email": "Company mail",
                      "company_name": "Acme Inc.", "reply_hours": 12}


def test_an_unticked_publish_box_saves_a_draft_and_empty_fields_take_their_defaults(owner_client, app):
    add_connections(app, ("Team Slack", "slack", SLACK), ("Company mail", "smtp", SMTP))
    data = {key: value for key, value in LEAD.items() if key != "publish"}

    submit(owner_client, "/templates/lead-to-slack", {**data, "name": "", "param-reply_hours": ""})

    [(_, name, status, _, params)] = workflows(app)
    assert (name, status, params["reply_hours"]) == ("New lead to Slack", "draft", 24)


def test_every_problem_is_shown_next_to_its_field_and_nothing_is_created(owner_client, app):
    add_connections(app, ("Team Slack", "slack", SLACK))
    data = {**LEAD, "name": "x" * 300, "param-email": "Team Slack", "param-company_name": "",
            "param-reply_hours": "500", "param-channel": " "}

    response = submit(owner_client, "/templates/lead-to-slack", data)

    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 200
    assert field_error(page, "param-email") == "'Team Slack' is a slack connection; this needs a smtp connection"
    assert field_error(page, "param-company_name") == "required: Company name"
    assert field_error(page, "param-reply_hours") == "must be at most 168"
    assert field_error(page, "name") != ""
    assert field_error(page, "param-channel") == "required: Slack channel"  # cleared: its default is not put back
    assert field_error(page, "param-slack") == ""
    assert 'value="500"' in input_tag(page, "param-reply_hours")  # what was typed stays in the form
    assert workflows(app) == []


def test_a_viewer_sees_the_form_without_a_button_and_cannot_post_it(sign_in, app):
    sign_in("owner")
    viewer = sign_in("viewer")

    page = viewer.get("/templates/lead-to-slack").get_data(as_text=True)
    assert "Create workflow" not in page
    assert "only an owner or an editor can create" in page
    assert "Add a Slack connection" not in page
    assert submit(viewer, "/templates/lead-to-slack", LEAD).status_code == 403
    assert workflows(app) == []


def test_a_post_without_the_csrf_token_is_refused(owner_client, app):
    assert owner_client.post("/templates/lead-to-slack", data=LEAD).status_code == 400
    assert workflows(app) == []


def test_an_unknown_template_is_not_found(owner_client):
    assert owner_client.get("/templates/no-such-thing").status_code == 404


def test_the_schedule_preview_says_the_schedule_in_words_with_its_next_runs(owner_client):
    response = owner_client.get("/templates/schedule-preview?cron=0+9+*+*+MON-FRI&timezone=Europe/Berlin")

    body = response.get_json()
    assert response.status_code == 200
    assert body["description"] == "At 09:00, Monday through Friday, Europe/Berlin"
    assert len(body["next_runs"]) == len(body["next_runs_text"]) == 5
    assert all(run.endswith(("+01:00", "+02:00")) and "T09:00:00" in run for run in body["next_runs"])
    assert all(text.endswith("09:00") for text in body["next_runs_text"])
    assert owner_client.get("/templates/schedule-preview?every=15m").get_json()["description"] == "Every 15 minutes"


def test_the_schedule_preview_reports_each_problem_as_json(owner_client, client):
    response = owner_client.get("/templates/schedule-preview?cron=0+25+*+*+*&timezone=Mars/Olympus")

    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid"
    assert {detail["path"] for detail in error["details"]} == {"cron", "timezone"}
    assert owner_client.get("/templates/schedule-preview?colour=red").status_code == 400
    assert client.get("/templates/schedule-preview?every=15m").status_code == 302  # signed out: sign in first


def test_a_cron_parameter_shows_its_schedule_in_words_in_the_forms_time_zone(owner_client, monkeypatch):
    lead = library()["standup-reminder"]
    cron = Parameter("when", "When", "When it runs.", "cron", required=True, default="30 8 * * MON")
    zone = next(p for p in lead.parameters if p.name == "timezone")
    template = replace(lead, key="cron-test", parameters=(cron, replace(zone, default="Europe/Berlin")))
    monkeypatch.setattr(gallery, "library", lambda: {"cron-test": template})

    page = owner_client.get("/templates/cron-test").get_data(as_text=True)

    tag = input_tag(page, "param-when")
    assert 'data-schedule-preview="f-param-when-preview"' in tag and 'data-timezone-field="f-param-timezone"' in tag
    assert "At 08:30, only on Monday, Europe/Berlin" in page
    assert len(re.findall(r"<li>Mon \d+ \w+ \d{4}, 08:30</li>", page)) == 5


def test_a_bad_value_alone_is_shown_next_to_its_field_and_nothing_is_created(owner_client, app):
    add_connections(app, ("Team Slack", "slack", SLACK), ("Company mail", "smtp", SMTP))

    response = submit(owner_client, "/templates/lead-to-slack", {**LEAD, "param-reply_hours": "soon"})

    page = html.unescape(response.get_data(as_text=True))
    assert field_error(page, "param-reply_hours") == "must be a number, not 'soon'"
    assert workflows(app) == []
