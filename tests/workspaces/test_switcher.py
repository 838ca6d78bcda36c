"""The workspace switcher and the workspaces page: the session remembers the chosen workspace while the user
is a member there, a workspace one does not belong to is not found, and a new workspace makes its creator
its owner."""

from __future__ import annotations

import re

from automation.members import remove_member
from automation.models import Membership, User, db
from tests.web.conftest import csrf_token, rows, submit
from tests.workspaces.conftest import audit_entries, role_of

SWITCHER = 'id="workspace-switch"'


def current_role(page: str) -> str:
    found = re.search(r'<span class="role">([^<]+)</span>', page)
    assert found, "no role in the header"
    return found.group(1)


def selected_workspace(page: str) -> str:
    found = re.search(r'<option value="\d+" selected>([^<]+)</option>', page)
    assert found, "no workspace selected in the switcher"
    return found.group(1)


def test_the_switcher_is_shown_only_to_someone_with_more_than_one_workspace(signed_in):
    assert SWITCHER in signed_in("owner").get("/").get_data(as_text=True)
    assert SWITCHER not in signed_in("editor").get("/").get_data(as_text=True)


def test_switching_works_in_the_chosen_workspace_with_the_role_held_there(signed_in, team):
    client = signed_in("owner")
    assert current_role(client.get("/").get_data(as_text=True)) == "owner"

    response = submit(client, "/workspace", {"workspace_id": team.acme_id}, form_path="/")

    assert (response.status_code, response.headers["Location"]) == (302, "/")
    page = client.get("/").get_data(as_text=True)
    assert (selected_workspace(page), current_role(page)) == ("Acme (editor)", "editor")


def test_switching_to_a_workspace_one_is_not_a_member_of_is_not_found(signed_in, team):
    client = signed_in("editor")

    response = submit(client, "/workspace", {"workspace_id": team.acme_id}, form_path="/")

    assert response.status_code == 404
    assert current_role(client.get("/").get_data(as_text=True)) == "editor"


def test_switching_needs_the_forms_csrf_token(signed_in, team):
    response = signed_in("owner").post("/workspace", data={"workspace_id": team.acme_id})

    assert response.status_code == 400


def test_a_session_falls_back_to_the_first_workspace_once_removed_from_the_chosen_one(app, signed_in, team):
    client = signed_in("owner")
    submit(client, "/workspace", {"workspace_id": team.acme_id}, form_path="/")

    def remove_from_acme() -> None:
        membership = db.session.query(Membership).join(User).filter(
            User.email == "olga@example.com", Membership.workspace_id == team.acme_id).one()
        remove_member(membership, actor=db.session.get(User, team.ids["acme_owner"]))

    rows(app, remove_from_acme)

    page = client.get("/").get_data(as_text=True)
    assert current_role(page) == "owner" and SWITCHER not in page


def test_creating_a_workspace_makes_its_creator_the_owner_and_works_in_it(app, signed_in, team):
    client = signed_in("viewer")

    response = submit(client, "/workspaces", {"name": "Side project"})

    assert (response.status_code, response.headers["Location"]) == (302, "/")
    page = client.get("/").get_data(as_text=True)
    assert (selected_workspace(page), current_role(page)) == ("Side project (owner)", "owner")
    [entry] = audit_entries(app, "workspace.create")[1:]
    assert (entry["actor"], entry["after"]) == ("vic@example.com", {"name": "Side project",
                                                                    "owner": "vic@example.com"})
    assert role_of(app, "vic@example.com", entry["workspace_id"]) == "owner"


def test_a_workspace_name_that_is_taken_is_refused_next_to_the_field(signed_in, team):
    client = signed_in("owner")

    response = client.post("/workspaces", data={"name": "Acme", "csrf_token": csrf_token(client, "/workspaces")})

    assert response.status_code == 422
    assert "a workspace named &#39;Acme&#39; already exists" in response.get_data(as_text=True)
