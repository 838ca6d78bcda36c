"""API tokens from the pages and the API: shown once and stored hashed, last use recorded, read-only and
viewer tokens unable to change anything, revocation effective at once, owners seeing every token, and one
audit entry per creation and revocation that never holds the token."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from automation.accounts import hash_token
from automation.models import ApiToken, db
from tests.web.conftest import rows, submit
from tests.workspaces.conftest import audit_entries, bearer

WORKFLOW = {"name": "Hello", "definition": {"trigger": {"type": "manual"},
                                            "steps": [{"id": "greet", "uses": "core.set", "with": {"a": "1"}}]}}


def stored(app, token: str) -> ApiToken | None:
    def read() -> ApiToken | None:
        row = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
        if row is not None:
            db.session.expunge(row)
        return row

    return rows(app, read)


@pytest.mark.storage
def test_a_token_created_through_the_api_is_shown_once_and_stored_hashed(client, app, team):
    response = client.post("/api/v1/tokens", json={"name": "CRM sync"}, headers=team.bearer["editor"])

    assert response.status_code == 201
    body = response.get_json()
    token = body.pop("token")
    assert body["name"] == "CRM sync" and body["read_only"] is False and token.startswith(body["prefix"])
    row = stored(app, token)
    assert row is not None and token not in (row.token_hash, row.prefix)
    listed = client.get("/api/v1/tokens", headers=bearer(token)).get_json()["items"]
    assert all("token" not in item for item in listed)
    assert {item["name"] for item in listed} == {"CRM sync", "editor token"}


@pytest.mark.storage
def test_a_revoked_token_is_refused_at_once(client, team):
    token = client.post("/api/v1/tokens", json={"name": "short-lived"}, headers=team.bearer["editor"]).get_json()
    assert client.get("/api/v1/workflows", headers=bearer(token["token"])).status_code == 200

    revoked = client.delete(f"/api/v1/tokens/{token['id']}", headers=team.bearer["editor"])

    assert revoked.status_code == 200 and revoked.get_json()["revoked_at"]
    answer = client.get("/api/v1/workflows", headers=bearer(token["token"]))
    assert answer.status_code == 401
    assert answer.get_json()["error"]["message"] == "this API token is not valid (unknown or revoked)"


@pytest.mark.storage
def test_a_viewers_token_cannot_change_anything(client, team):
    headers = team.bearer["viewer"]

    assert client.get("/api/v1/workflows", headers=headers).status_code == 200
    assert client.post("/api/v1/workflows", json=WORKFLOW, headers=headers).status_code == 403
    assert client.post("/api/v1/tokens", json={"name": "more rights"}, headers=headers).status_code == 403
    assert client.patch("/api/v1/members/1", json={"role": "owner"}, headers=headers).status_code == 403


def test_a_read_only_token_cannot_create_tokens(client, app, team):
    read_only = client.post("/api/v1/tokens", json={"name": "ro", "read_only": True},
                            headers=team.bearer["owner"]).get_json()["token"]

    response = client.post("/api/v1/tokens", json={"name": "escalate"}, headers=bearer(read_only))

    assert response.status_code == 403
    assert client.post("/api/v1/workflows", json=WORKFLOW, headers=bearer(read_only)).status_code == 403


def test_using_a_token_records_when_it_was_last_used(client, app, team):
    token = client.post("/api/v1/tokens", json={}, headers=team.bearer["editor"]).get_json()["token"]
    assert stored(app, token).last_used_at is None

    client.get("/api/v1/workflows", headers=bearer(token))

    assert stored(app, token).last_used_at is not None


def test_creating_and_revoking_are_audited_once_each_without_the_token(client, app, team):
    created = client.post("/api/v1/tokens", json={"name": "audited"}, headers=team.bearer["editor"]).get_json()
    client.delete(f"/api/v1/tokens/{created['id']}", headers=team.bearer["owner"])

    [create] = audit_entries(app, "token.create")
    [revoke] = audit_entries(app, "token.revoke")
    assert (create["actor"], create["target"]) == ("ed@example.com", str(created["id"]))
    assert (revoke["actor"], revoke["target"]) == ("olga@example.com", str(created["id"]))
    assert revoke["before"]["revoked_at"] is None and revoke["after"]["revoked_at"]
    assert created["token"] not in str([create, revoke])
    assert hash_token(created["token"]) not in str([create, revoke])


def test_an_owner_sees_and_revokes_every_token_others_only_their_own(client, team):
    owner_sees = {t["user"] for t in client.get("/api/v1/tokens", headers=team.bearer["owner"]).get_json()["items"]}
    editor_sees = {t["user"] for t in client.get("/api/v1/tokens", headers=team.bearer["editor"]).get_json()["items"]}
    owners_token = client.get("/api/v1/tokens", headers=team.bearer["owner"]).get_json()["items"]
    owner_token_id = next(t["id"] for t in owners_token if t["user"] == "olga@example.com")

    assert owner_sees == {"olga@example.com", "ed@example.com", "vic@example.com", "ada@example.com"}
    assert editor_sees == {"ed@example.com"}
    assert client.delete(f"/api/v1/tokens/{owner_token_id}", headers=team.bearer["editor"]).status_code == 404


def test_a_token_of_another_workspace_is_not_found(client, team):
    acme = client.get("/api/v1/tokens", headers=team.bearer["acme_owner"]).get_json()["items"]

    response = client.delete(f"/api/v1/tokens/{acme[0]['id']}", headers=team.bearer["owner"])

    assert response.status_code == 404


def test_a_bad_token_request_names_the_field(client, team):
    too_long = client.post("/api/v1/tokens", json={"name": "x" * 121}, headers=team.bearer["editor"])
    not_flag = client.post("/api/v1/tokens", json={"read_only": "yes"}, headers=team.bearer["editor"])

    assert (too_long.status_code, too_long.get_json()["error"]["details"][0]["path"]) == (422, "name")
    assert (not_flag.status_code, not_flag.get_json()["error"]["details"][0]["path"]) == (400, "read_only")


def test_the_tokens_page_shows_a_new_token_once_with_a_copy_button(app, signed_in, team):
    client = signed_in("approver")

    created = submit(client, "/tokens", {"name": "Phone"})

    page = created.get_data(as_text=True)
    assert created.status_code == 201
    token = re.search(r'data-copy="(rly_[^"]+)"', page).group(1)
    assert stored(app, token).name == "Phone"
    again = client.get("/tokens").get_data(as_text=True)
    assert token not in again and "Phone" in again and "never" in again


def test_a_viewers_token_from_the_page_is_read_only(app, signed_in, team):
    page = submit(signed_in("viewer"), "/tokens", {"name": "Report"}).get_data(as_text=True)

    token = re.search(r'data-copy="(rly_[^"]+)"', page).group(1)
    assert stored(app, token).read_only is True


def test_revoking_from_the_page_stops_the_token(client, app, signed_in, team):
    web = signed_in("editor")
    token_id = next(t["id"] for t in client.get("/api/v1/tokens", headers=team.bearer["editor"]).get_json()["items"])

    response = submit(web, f"/tokens/{token_id}/revoke", {}, form_path="/tokens")

    assert response.status_code == 302
    assert client.get("/api/v1/workflows", headers=team.bearer["editor"]).status_code == 401
    assert "revoked" in web.get("/tokens").get_data(as_text=True)
