"""Connections API: secrets are write-only and stored as ciphertext, fields are validated against the
connection type, and the connector catalogue carries the schemas forms are generated from."""

from __future__ import annotations

import base64
import json
from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskClient

from automation.models import AuditLog, Connection, db
from tests.support.recording_server import RecordingServer, Reply

SIGNING_SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
SLACK_TOKEN = "xoxb-1234-5678-abcdefghijklmnop"


def create(client: FlaskClient, headers: dict[str, str], **body: Any) -> Any:
    payload = {"name": "Orders hook", "connector": "webhook",
               "fields": {"signing_secret": SIGNING_SECRET, "headers": {"X-Team": "ops"}}, **body}
    return client.post("/api/v1/connections", json=payload, headers=headers)


def test_created_connection_shows_which_secrets_are_set_but_never_their_values(client, owner):
    response = create(client, owner)
    assert response.status_code == 201
    data = response.get_json()
    assert data["fields"] == {"headers": {"X-Team": "ops"}}
    assert data["secrets"] == {"signing_secret": True}
    assert SIGNING_SECRET not in response.get_data(as_text=True)
    assert response.headers["Location"].endswith(f"/api/v1/connections/{data['id']}")


def test_secret_is_stored_as_ciphertext(client, owner):
    connection_id = create(client, owner).get_json()["id"]
    stored = db.session.get(Connection, connection_id)
    assert stored is not None and stored.secrets
    assert SIGNING_SECRET not in stored.secrets and SIGNING_SECRET[6:] not in stored.secrets
    assert SIGNING_SECRET not in json.dumps(stored.fields)
    raw = db.session.execute(sa.text("SELECT * FROM connections")).one()
    assert SIGNING_SECRET not in repr(tuple(raw))


def test_no_read_path_returns_the_secret(client, owner):
    connection_id = create(client, owner).get_json()["id"]
    for path in ("/api/v1/connections", f"/api/v1/connections/{connection_id}"):
        response = client.get(path, headers=owner)
        assert response.status_code == 200
        assert SIGNING_SECRET not in response.get_data(as_text=True)


def test_audit_log_records_changes_without_secrets(client, owner):
    connection_id = create(client, owner).get_json()["id"]
    client.patch(f"/api/v1/connections/{connection_id}", json={"name": "Renamed"}, headers=owner)
    client.delete(f"/api/v1/connections/{connection_id}", headers=owner)
    rows = db.session.scalars(sa.select(AuditLog).order_by(AuditLog.id)).all()
    assert [r.action for r in rows] == ["connection.create", "connection.update", "connection.delete"]
    assert rows[0].actor == "owner@example.com"
    assert all(SIGNING_SECRET not in json.dumps([r.before, r.after]) for r in rows)


def test_patch_without_the_secret_keeps_it(client, owner):
    connection_id = create(client, owner).get_json()["id"]
    response = client.patch(f"/api/v1/connections/{connection_id}",
                            json={"fields": {"headers": {"X-Team": "sales"}}}, headers=owner)
    assert response.status_code == 200
    assert response.get_json()["fields"] == {"headers": {"X-Team": "sales"}}
    assert response.get_json()["secrets"] == {"signing_secret": True}


def test_patch_with_null_clears_an_optional_field(client, owner):
    connection_id = create(client, owner).get_json()["id"]
    response = client.patch(f"/api/v1/connections/{connection_id}", json={"fields": {"headers": None}},
                            headers=owner)
    assert response.get_json()["fields"] == {}


def test_clearing_a_required_secret_is_refused(client, owner):
    connection_id = create(client, owner).get_json()["id"]
    response = client.patch(f"/api/v1/connections/{connection_id}", json={"fields": {"signing_secret": None}},
                            headers=owner)
    assert response.status_code == 422
    assert {"path": "fields.signing_secret", "message": "required"} in response.get_json()["error"]["details"]


def test_unknown_connector_lists_the_known_ones(client, owner):
    response = create(client, owner, connector="fax")
    assert response.status_code == 422
    message = response.get_json()["error"]["message"]
    assert "unknown connector 'fax'" in message and "smtp" in message and "webhook" in message


def test_every_field_problem_is_reported_at_once(client, owner):
    response = create(client, owner, name="", fields={"signing_secret": "nope", "colour": "red"})
    assert response.status_code == 422
    paths = {d["path"] for d in response.get_json()["error"]["details"]}
    assert {"name", "fields.colour", "fields.signing_secret"} <= paths


def test_duplicate_name_is_a_conflict(client, owner):
    assert create(client, owner).status_code == 201
    response = create(client, owner)
    assert response.status_code == 409
    assert "already exists" in response.get_json()["error"]["message"]


def test_wrong_json_types_are_bad_requests(client, owner):
    assert create(client, owner, fields=["x"]).status_code == 400
    assert create(client, owner, name=7).status_code == 400
    assert client.post("/api/v1/connections", json={"name": "x", "connector": "webhook", "extra": 1},
                       headers=owner).status_code == 400


def test_connector_of_a_saved_connection_cannot_change(client, owner):
    connection_id = create(client, owner).get_json()["id"]
    response = client.patch(f"/api/v1/connections/{connection_id}", json={"connector": "smtp"}, headers=owner)
    assert response.status_code == 400


def test_viewer_reads_but_cannot_create(client, owner, viewer):
    create(client, owner)
    assert client.get("/api/v1/connections", headers=viewer).get_json()["total"] == 1
    assert create(client, viewer, name="Mine").status_code == 403


def test_other_workspace_sees_nothing(client, owner, other_workspace):
    connection_id = create(client, owner).get_json()["id"]
    assert client.get(f"/api/v1/connections/{connection_id}", headers=other_workspace).status_code == 404
    assert client.get("/api/v1/connections", headers=other_workspace).get_json()["total"] == 0


def test_catalogue_lists_every_action_with_its_input_schema(client, owner):
    response = client.get("/api/v1/connectors", headers=owner)
    assert response.status_code == 200
    actions = {a["uses"]: a for c in response.get_json()["items"] for a in c["actions"]}
    assert {"email.send", "sms.send", "slack.post_message", "slack.webhook", "teams.post_message",
            "webhook.send", "http.request", "core.set"} <= set(actions)
    assert actions["sms.send"]["connection"] == "twilio"
    assert actions["sms.send"]["input_schema"]["type"] == "object"
    assert "to" in actions["sms.send"]["input_schema"]["properties"]
    types = {t["key"]: t for t in response.get_json()["connection_types"]}
    assert set(types) >= {"smtp", "twilio", "slack", "teams", "webhook"}
    assert types["smtp"]["secret_fields"] == ["password"]
    assert types["smtp"]["schema"]["properties"]["password"]["writeOnly"] is True


def test_test_endpoint_checks_slack_credentials_for_real(client, owner, app):
    with RecordingServer() as slack:
        slack.reply(Reply(200, {"ok": True, "team": "Acme", "user": "relay-bot"}))
        app.config["RELAY_ALLOWED_HOSTS"] = "127.0.0.1"
        connection_id = client.post("/api/v1/connections", headers=owner, json={
            "name": "Slack", "connector": "slack",
            "fields": {"bot_token": SLACK_TOKEN, "base_url": slack.url + "/api/"}}).get_json()["id"]
        response = client.post(f"/api/v1/connections/{connection_id}/test", headers=owner)
    assert response.status_code == 200
    assert response.get_json()["ok"] is True
    assert slack.requests[0].path == "/api/auth.test"
    assert slack.requests[0].header("Authorization") == f"Bearer {SLACK_TOKEN}"
    assert SLACK_TOKEN not in response.get_data(as_text=True)


def test_test_endpoint_says_what_failed_without_the_secret(client, owner, app):
    with RecordingServer() as slack:
        slack.reply(Reply(200, {"ok": False, "error": "invalid_auth"}))
        app.config["RELAY_ALLOWED_HOSTS"] = "127.0.0.1"
        connection_id = client.post("/api/v1/connections", headers=owner, json={
            "name": "Slack", "connector": "slack",
            "fields": {"bot_token": SLACK_TOKEN, "base_url": slack.url + "/api/"}}).get_json()["id"]
        response = client.post(f"/api/v1/connections/{connection_id}/test", headers=owner)
    body = response.get_json()
    assert body["ok"] is False and "invalid_auth" in body["message"]
    assert SLACK_TOKEN not in response.get_data(as_text=True)


def test_test_endpoint_refuses_an_internal_address_unless_allowed(client, owner):
    with RecordingServer() as slack:
        connection_id = client.post("/api/v1/connections", headers=owner, json={
            "name": "Slack", "connector": "slack",
            "fields": {"bot_token": SLACK_TOKEN, "base_url": slack.url + "/api/"}}).get_json()["id"]
        response = client.post(f"/api/v1/connections/{connection_id}/test", headers=owner)
    body = response.get_json()
    assert body["ok"] is False and "refused to connect to 127.0.0.1" in body["message"]
    assert slack.requests == []


def test_a_rejected_secret_is_not_echoed_in_the_error(client, owner):
    response = create(client, owner, fields={"signing_secret": "not-a-whsec-value"})
    assert response.status_code == 422
    assert "not-a-whsec-value" not in response.get_data(as_text=True)
