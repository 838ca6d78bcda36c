"""Connections pages: a form generated from the connection type, write-only secrets, a real check,
deleting refused while an active workflow uses the connection, and changes for editors only."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from automation import connections, workflows
from automation.accounts import default_workspace
from automation.models import Connection, Workspace, db
from tests.support.recording_server import RecordingServer, Reply
from tests.web.conftest import csrf_token, field_error, rows, submit

pytestmark = pytest.mark.storage

SLACK_TOKEN = "xoxb-1234-5678-abcdefghijklmnop"
SMTP_PASSWORD = "smtp-password-which-is-secret"
NEW_SLACK = "/connections/new?connector=slack"


def saved(app) -> list[tuple[str, str, dict, dict]]:
    """Every connection as (name, connector, plain fields, whether each secret is set)."""
    def query():
        found = db.session.scalars(sa.select(Connection).order_by(Connection.id)).all()
        return [(c.name, c.connector, c.fields, connections.describe(c)["secrets"]) for c in found]
    return rows(app, query)


def add_connection(app, name="Team Slack", connector="slack", fields=None) -> int:
    def create():
        workspace = default_workspace()
        return connections.create_connection(workspace.id, name, connector,
                                             fields or {"bot_token": SLACK_TOKEN}).id
    return rows(app, create)


def add_workflow(app, name: str, connection: str, *, publish: bool = True) -> int:
    definition = {"trigger": {"type": "manual"}, "steps": [
        {"id": "say", "uses": "slack.post_message", "connection": "{{ params.slack }}",
         "with": {"channel": "#sales", "text": "hi"}}]}

    def create():
        workflow = workflows.create_workflow(default_workspace().id, name, definition, params={"slack": connection})
        if publish:
            workflows.publish(workflow)
        return workflow.id
    return rows(app, create)


def test_the_list_shows_secrets_as_set_and_never_their_value(owner_client, app):
    add_connection(app, "Mail", "smtp", {"host": "smtp.example.com", "from_address": "ops@example.com",
                                         "username": "ops", "password": SMTP_PASSWORD})
    page = owner_client.get("/connections").get_data(as_text=True)

    assert "Mail" in page and "SMTP email" in page and "smtp.example.com" in page
    assert re.search(r"<dt>Password</dt>\s*<dd><span class=\"badge active\">set</span>", page)
    assert SMTP_PASSWORD not in page


def test_the_list_says_which_workflows_use_a_connection(owner_client, app):
    add_connection(app)
    workflow_id = add_workflow(app, "Lead alerts", "Team Slack")
    page = owner_client.get("/connections").get_data(as_text=True)
    assert f'<a href="/workflows/{workflow_id}">Lead alerts</a>' in page


def test_adding_without_a_connector_asks_which_one_first(owner_client):
    page = owner_client.get("/connections/new?next=/templates/x").get_data(as_text=True)
    assert 'href="/connections/new?connector=slack&amp;next=/templates/x"' in page
    assert "Microsoft Teams" in page and "Twilio" in page


def test_the_slack_form_renders_its_fields_with_a_password_input_for_the_token(owner_client):
    page = owner_client.get(NEW_SLACK).get_data(as_text=True)

    assert re.search(r'<label for="f-fields.bot_token">Bot token</label>\s*<input id="f-fields.bot_token" '
                     r'name="fields.bot_token" type="password"', page)
    assert 'name="fields.webhook_url" type="password"' in page
    assert 'name="fields.base_url" type="text"' in page
    assert "needs the chat:write scope" in page


def test_the_form_picks_inputs_from_the_json_schema(owner_client):
    smtp = owner_client.get("/connections/new?connector=smtp").get_data(as_text=True)
    webhook = owner_client.get("/connections/new?connector=webhook").get_data(as_text=True)

    assert 'name="fields.port" type="number"' in smtp
    assert re.search(r'<select id="f-fields.security" name="fields.security"[^>]*>\s*<option value=""', smtp)
    assert '<option value="starttls" selected>' in smtp
    assert '<textarea id="f-fields.headers" name="fields.headers"' in webhook


def test_valid_fields_create_the_connection_and_return_to_a_local_next(owner_client, app):
    response = submit(owner_client, NEW_SLACK + "&next=/templates/lead-alert", {
        "name": "Team Slack", "fields.bot_token": SLACK_TOKEN, "fields.base_url": ""})

    assert (response.status_code, response.headers["Location"]) == (302, "/templates/lead-alert")
    assert saved(app) == [("Team Slack", "slack", {}, {"bot_token": True, "webhook_url": False})]


def test_an_external_next_is_ignored(owner_client):
    response = submit(owner_client, NEW_SLACK + "&next=//evil.example/x", {
        "name": "Team Slack", "fields.bot_token": SLACK_TOKEN})
    assert response.headers["Location"] == "/connections"


def test_bad_fields_show_errors_next_to_them_and_save_nothing(owner_client, app):
    response = submit(owner_client, "/connections/new?connector=smtp", {
        "name": "", "fields.host": "smtp.example.com", "fields.port": "99999", "fields.password": SMTP_PASSWORD})

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert field_error(page, "name") == "required: a non-empty name"
    assert "65535" in field_error(page, "fields.port")
    assert field_error(page, "fields.from_address") == "required"
    assert field_error(page, "fields.host") == ""
    assert 'value="smtp.example.com"' in page
    assert SMTP_PASSWORD not in page
    assert saved(app) == []


def test_a_value_of_the_wrong_kind_is_an_error_on_its_field(owner_client, app):
    response = submit(owner_client, "/connections/new?connector=webhook", {
        "name": "Hook", "fields.signing_secret": "whsec_" + "a" * 40, "fields.headers": "{not json"})
    assert field_error(response.get_data(as_text=True), "fields.headers").startswith("not valid JSON")
    assert saved(app) == []


def test_edit_keeps_a_secret_whose_input_is_left_empty(owner_client, app):
    connection_id = add_connection(app)
    form = owner_client.get(f"/connections/{connection_id}/edit").get_data(as_text=True)
    assert 'placeholder="set"' in form and SLACK_TOKEN not in form

    response = submit(owner_client, f"/connections/{connection_id}/edit", {
        "name": "Sales Slack", "fields.bot_token": "", "fields.base_url": "https://slack.example.com/api/"})

    assert response.headers["Location"] == "/connections"
    assert saved(app) == [("Sales Slack", "slack", {"base_url": "https://slack.example.com/api/"},
                           {"bot_token": True, "webhook_url": False})]
    assert rows(app, lambda: connections.load(db.session.get(Connection, connection_id)).fields["bot_token"]) \
        == SLACK_TOKEN


def test_testing_a_connection_shows_the_check_result(owner_client, app):
    with RecordingServer() as slack:
        slack.reply(Reply(200, {"ok": True, "team": "Acme", "user": "relay-bot"}))
        slack.reply(Reply(200, {"ok": False, "error": "invalid_auth"}))
        app.config["RELAY_ALLOWED_HOSTS"] = "127.0.0.1"
        connection_id = add_connection(app, fields={"bot_token": SLACK_TOKEN, "base_url": slack.url + "/api/"})
        path = f"/connections/{connection_id}/test"
        works = owner_client.post(path, data={"csrf_token": csrf_token(owner_client, "/connections")},
                                  follow_redirects=True).get_data(as_text=True)
        fails = owner_client.post(path, data={"csrf_token": csrf_token(owner_client, "/connections")},
                                  follow_redirects=True).get_data(as_text=True)

    assert slack.requests[0].path == "/api/auth.test"
    assert "“Team Slack” works:" in works and "Acme" in works
    assert "“Team Slack” does not work:" in fails and "invalid_auth" in fails
    assert SLACK_TOKEN not in works + fails


def test_delete_is_refused_naming_the_active_workflow_that_uses_it(owner_client, app):
    connection_id = add_connection(app)
    add_workflow(app, "Lead alerts", "Team Slack")

    response = submit(owner_client, f"/connections/{connection_id}/delete", {}, form_path="/connections")
    page = owner_client.get(response.headers["Location"]).get_data(as_text=True)

    assert "“Team Slack” is not deleted: the active workflow “Lead alerts” uses it" in page
    assert len(saved(app)) == 1


def test_delete_is_allowed_when_only_drafts_use_it(owner_client, app):
    connection_id = add_connection(app)
    add_workflow(app, "Draft alerts", "Team Slack", publish=False)

    response = submit(owner_client, f"/connections/{connection_id}/delete", {}, form_path="/connections")

    assert response.headers["Location"] == "/connections"
    assert saved(app) == []


def test_a_viewer_sees_no_buttons_and_cannot_change_anything(sign_in, app):
    sign_in("owner")
    viewer = sign_in("viewer")
    connection_id = add_connection(app)

    page = viewer.get("/connections").get_data(as_text=True)
    assert "Team Slack" in page
    assert "Add a connection" not in page and "/edit" not in page and "/test" not in page
    token = csrf_token(viewer, "/connections")
    for path in ("/connections/new?connector=slack", f"/connections/{connection_id}/edit",
                 f"/connections/{connection_id}/test", f"/connections/{connection_id}/delete"):
        assert viewer.post(path, data={"csrf_token": token, "name": "X"}).status_code == 403, path
    assert viewer.get(NEW_SLACK).status_code == 403
    assert len(saved(app)) == 1


def test_a_post_without_the_csrf_token_is_refused(owner_client, app):
    connection_id = add_connection(app)
    assert owner_client.post(NEW_SLACK, data={"name": "X", "fields.bot_token": SLACK_TOKEN}).status_code == 400
    assert owner_client.post(f"/connections/{connection_id}/delete").status_code == 400
    assert len(saved(app)) == 1


def test_another_workspaces_connection_is_not_found(owner_client, app):
    def elsewhere():
        workspace = Workspace(name="Other")
        db.session.add(workspace)
        db.session.commit()
        return connections.create_connection(workspace.id, "Theirs", "slack", {"bot_token": SLACK_TOKEN}).id
    connection_id = rows(app, elsewhere)
    assert owner_client.get(f"/connections/{connection_id}/edit").status_code == 404
    assert "Theirs" not in owner_client.get("/connections").get_data(as_text=True)
