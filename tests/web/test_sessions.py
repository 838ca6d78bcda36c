"""First-run setup, sign-in and sign-out, password change, and CSRF on every form."""

from __future__ import annotations

import pytest

from automation.models import User, db
from tests.web.conftest import PASSWORD, csrf_token, field_error, rows, submit

pytestmark = pytest.mark.storage

OWNER = {"name": "Ada Lovelace", "email": "ada@example.com", "password": PASSWORD, "confirm": PASSWORD}


def users(app) -> list[tuple[str, str, str]]:
    return rows(app, lambda: [(u.email, u.name, u.memberships[0].role) for u in db.session.query(User)])


def test_the_first_visit_asks_for_the_owner_account(client):
    response = client.get("/")
    assert (response.status_code, response.headers["Location"]) == (302, "/setup")
    assert "Create the owner account" in client.get("/setup").get_data(as_text=True)


def test_setup_creates_the_owner_and_signs_them_in(client, app):
    response = submit(client, "/setup", OWNER)

    assert (response.status_code, response.headers["Location"]) == (302, "/")
    assert users(app) == [("ada@example.com", "Ada Lovelace", "owner")]
    assert client.get("/").status_code == 200


def test_setup_shows_each_error_next_to_its_field_and_creates_nobody(client, app):
    response = submit(client, "/setup", {**OWNER, "email": "not-an-email", "confirm": "something else"})

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert field_error(page, "email") == "Invalid email address."
    assert field_error(page, "confirm") == "the passwords differ"
    assert field_error(page, "name") == ""
    assert users(app) == []


def test_setup_is_gone_once_the_owner_exists(client):
    submit(client, "/setup", OWNER)
    other = client.application.test_client()
    assert other.get("/setup").headers["Location"] == "/login"


def test_signing_in_with_a_wrong_password_says_so_without_saying_which(client, sign_in):
    sign_in("owner", email="ada@example.com")
    fresh = client.application.test_client()
    response = submit(fresh, "/login", {"email": "ada@example.com", "password": "wrong password"})
    assert response.status_code == 200
    assert "the email or the password is not right" in response.get_data(as_text=True)


def test_signing_in_returns_to_the_page_asked_for_but_never_to_another_site(sign_in, app):
    sign_in("owner", email="ada@example.com")
    client = app.test_client()
    token = csrf_token(client, "/login")
    inside = client.post("/login?next=/account", data={"email": "ada@example.com", "password": PASSWORD,
                                                        "csrf_token": token})
    assert inside.headers["Location"] == "/account"
    client = app.test_client()
    outside = client.post("/login?next=//evil.example/x", data={"email": "ada@example.com", "password": PASSWORD,
                                                                 "csrf_token": csrf_token(client, "/login")})
    assert outside.headers["Location"] == "/"


def test_pages_need_a_signed_in_user(client, sign_in):
    sign_in("owner")
    response = client.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/account")


def test_a_form_without_its_csrf_token_is_refused(client, app):
    response = client.post("/setup", data=OWNER)
    assert response.status_code == 400
    assert users(app) == []


def test_signing_out_needs_the_form_and_ends_the_session(owner_client):
    assert owner_client.get("/logout").status_code == 405
    response = submit(owner_client, "/logout", {}, form_path="/")
    assert response.headers["Location"] == "/login"
    assert owner_client.get("/").status_code == 302


def test_the_password_can_be_changed_with_the_current_one(owner_client, app):
    wrong = submit(owner_client, "/account", {"current": "nope nope", "new": "a new password", "confirm":
                                              "a new password"})
    assert "the current password is not right" in wrong.get_data(as_text=True)
    changed = submit(owner_client, "/account", {"current": PASSWORD, "new": "a new password",
                                                "confirm": "a new password"})
    assert changed.status_code == 302
    fresh = app.test_client()
    assert submit(fresh, "/login", {"email": "owner@example.com", "password": "a new password"}).status_code == 302


def test_the_api_and_hooks_need_no_csrf_token(client):
    assert client.post("/api/v1/workflows", json={}).status_code == 401
    assert client.post("/hooks/unknown-token", json={}).status_code == 404
