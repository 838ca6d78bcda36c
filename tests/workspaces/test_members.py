"""Members, for owners: roles changed and members removed through the page and the API, the last owner kept,
a removed member's tokens revoked, non-owners refused, and one audit entry per change naming its actor."""

from __future__ import annotations

from automation.accounts import create_api_token, create_user
from tests.web.conftest import PASSWORD, rows, submit
from tests.workspaces.conftest import ACME_OWNER, audit_entries, bearer, role_of


def test_an_owner_sees_every_member_with_their_role(signed_in, team):
    page = signed_in("owner").get("/members").get_data(as_text=True)

    for email in ("olga@example.com", "ed@example.com", "vic@example.com", "ada@example.com"):
        assert email in page
    assert ACME_OWNER not in page


def test_members_is_in_an_owners_navigation_only(signed_in):
    assert 'href="/members"' in signed_in("owner").get("/").get_data(as_text=True)
    assert 'href="/members"' not in signed_in("editor").get("/").get_data(as_text=True)


def test_non_owners_are_refused_the_page_and_its_changes(signed_in, team):
    editor = signed_in("editor")

    assert editor.get("/members").status_code == 403
    response = submit(editor, f"/members/{team.ids['viewer']}/role", {"role": "owner"}, form_path="/tokens")
    assert response.status_code == 403


def test_changing_a_role_through_the_page_is_audited_once_with_the_owner_as_actor(app, signed_in, team):
    response = submit(signed_in("owner"), f"/members/{team.ids['viewer']}/role", {"role": "editor"},
                      form_path="/members")

    assert response.status_code == 302
    assert role_of(app, "vic@example.com", team.default_id) == "editor"
    [entry] = audit_entries(app, "member.role_change")
    assert (entry["actor"], entry["target"]) == ("olga@example.com", str(team.ids["viewer"]))
    assert (entry["before"]["role"], entry["after"]["role"]) == ("viewer", "editor")


def test_the_last_owner_cannot_be_demoted_or_removed(app, signed_in, team):
    owner = signed_in("owner")

    demoted = submit(owner, f"/members/{team.ids['owner']}/role", {"role": "editor"}, form_path="/members")
    removed = submit(owner, f"/members/{team.ids['owner']}/remove", {}, form_path="/members")

    for response in (demoted, removed):
        assert response.status_code == 422
        assert "the last owner of a workspace cannot be" in response.get_data(as_text=True)
    assert role_of(app, "olga@example.com", team.default_id) == "owner"
    assert audit_entries(app, "member.role_change") == audit_entries(app, "member.remove") == []


def test_an_owner_can_step_down_once_there_is_another_owner(client, app, team):
    client.patch(f"/api/v1/members/{team.ids['editor']}", json={"role": "owner"}, headers=team.bearer["owner"])

    response = client.patch(f"/api/v1/members/{team.ids['owner']}", json={"role": "viewer"},
                            headers=team.bearer["owner"])

    assert (response.status_code, response.get_json()["role"]) == (200, "viewer")


def test_the_api_refuses_to_leave_a_workspace_without_an_owner(client, team):
    demote = client.patch(f"/api/v1/members/{team.ids['owner']}", json={"role": "editor"},
                          headers=team.bearer["owner"])
    remove = client.delete(f"/api/v1/members/{team.ids['owner']}", headers=team.bearer["owner"])

    assert (demote.status_code, remove.status_code) == (409, 409)
    assert "last owner" in demote.get_json()["error"]["message"]


def test_removing_a_member_revokes_their_tokens_in_that_workspace_at_once(client, app, team):
    assert client.get("/api/v1/workflows", headers=team.bearer["editor"]).status_code == 200

    response = client.delete(f"/api/v1/members/{team.ids['editor']}", headers=team.bearer["owner"])

    assert response.status_code == 204
    assert client.get("/api/v1/workflows", headers=team.bearer["editor"]).status_code == 401
    assert role_of(app, "ed@example.com", team.default_id) is None
    [entry] = audit_entries(app, "member.remove")
    assert (entry["actor"], entry["before"]["email"], entry["after"]) == (
        "olga@example.com", "ed@example.com", {"tokens_revoked": 1})


def test_a_member_removed_from_one_workspace_keeps_their_tokens_of_another(client, app, team):
    acme_token = rows(app, lambda: bearer(create_api_token("olga@example.com", workspace="Acme")))

    response = client.delete(f"/api/v1/members/{team.ids['owner']}", headers=team.bearer["acme_owner"])

    assert response.status_code == 204
    assert client.get("/api/v1/workflows", headers=acme_token).status_code == 401
    assert client.get("/api/v1/workflows", headers=team.bearer["owner"]).status_code == 200


def test_the_members_api_lists_the_callers_workspace_only(client, team):
    response = client.get("/api/v1/members", headers=team.bearer["owner"])

    assert response.status_code == 200
    assert [(m["email"], m["role"]) for m in response.get_json()["items"]] == [
        ("ada@example.com", "approver"), ("ed@example.com", "editor"), ("olga@example.com", "owner"),
        ("vic@example.com", "viewer")]


def test_the_members_api_is_for_owners_only(client, team):
    for who in ("editor", "viewer", "approver"):
        assert client.get("/api/v1/members", headers=team.bearer[who]).status_code == 403
    response = client.patch(f"/api/v1/members/{team.ids['viewer']}", json={"role": "owner"},
                            headers=team.bearer["editor"])
    assert response.status_code == 403


def test_a_member_of_another_workspace_is_not_found(client, team):
    response = client.patch(f"/api/v1/members/{team.ids['acme_owner']}", json={"role": "viewer"},
                            headers=team.bearer["owner"])

    assert response.status_code == 404
    assert client.delete("/api/v1/members/2147483648", headers=team.bearer["owner"]).status_code == 404


def test_an_unknown_role_is_refused_naming_the_field(client, team):
    response = client.patch(f"/api/v1/members/{team.ids['viewer']}", json={"role": "admin"},
                            headers=team.bearer["owner"])

    assert response.status_code == 422
    assert response.get_json()["error"]["details"] == [
        {"path": "role", "message": "unknown role 'admin'; choose one of owner, editor, viewer, approver"}]


def test_a_member_added_elsewhere_keeps_one_account(app, team):
    rows(app, lambda: create_user("newbie@example.com", PASSWORD, "viewer", workspace="Acme") and None)
    rows(app, lambda: create_user("newbie@example.com", "", "editor") and None)

    assert (role_of(app, "newbie@example.com", team.acme_id), role_of(app, "newbie@example.com", team.default_id)) \
        == ("viewer", "editor")
