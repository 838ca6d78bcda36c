"""Session cookies are HttpOnly and SameSite=Lax, and Secure by RELAY_SECURE_COOKIES (auto: when a trusted
proxy is configured, or the request itself came over HTTPS); RELAY_PROXY_FIX makes Relay believe that
many proxies' X-Forwarded-For, -Proto and -Host, and no more."""

from __future__ import annotations

import pytest

from tests.web.conftest import PASSWORD, csrf_token

FORWARDED_HTTPS = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "relay.example.com"}


def session_cookie(client, owner, base_url="http://localhost"):
    """Sign in and return the Set-Cookie header of the session cookie. Over HTTPS a browser sends the
    Referer the CSRF check asks for there (Referrer-Policy same-origin keeps it)."""
    token = csrf_token(client, "/login")
    answer = client.post("/login", data={"email": owner, "password": PASSWORD, "csrf_token": token},
                         base_url=base_url, headers={"Referer": f"{base_url}/login"})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    [cookie] = [value for value in answer.headers.getlist("Set-Cookie") if value.startswith("session=")]
    return cookie


def test_the_session_cookie_is_httponly_and_samesite_lax(client, owner):
    cookie = session_cookie(client, owner)

    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_by_default_a_plain_http_request_gets_a_cookie_without_secure(client, owner):
    assert "Secure" not in session_cookie(client, owner)


def test_by_default_an_https_request_gets_a_secure_cookie(client, owner):
    assert "Secure" in session_cookie(client, owner, base_url="https://localhost")


@pytest.mark.settings(RELAY_PROXY_FIX=1)
def test_behind_a_trusted_proxy_the_cookie_is_secure(client, owner):
    assert "Secure" in session_cookie(client, owner)


@pytest.mark.settings(RELAY_SECURE_COOKIES="on")
def test_on_makes_every_cookie_secure(client, owner):
    assert "Secure" in session_cookie(client, owner)


@pytest.mark.settings(RELAY_SECURE_COOKIES="off")
def test_off_never_marks_the_cookie_secure(client, owner):
    assert "Secure" not in session_cookie(client, owner, base_url="https://localhost")


@pytest.mark.settings(RELAY_PROXY_FIX=1)
def test_a_trusted_proxy_gives_the_public_scheme_and_host_to_links(client, bearer):
    created = client.post("/api/v1/workflows", headers={**bearer, **FORWARDED_HTTPS}, json={
        "name": "Hook", "definition": {"trigger": {"type": "webhook"},
                                       "steps": [{"id": "a", "uses": "core.set", "with": {"x": 1}}]}})

    assert created.status_code == 201, created.get_json()
    assert created.get_json()["webhook_url"].startswith("https://relay.example.com/hooks/")


def test_without_a_trusted_proxy_forwarded_headers_are_ignored(client, bearer):
    created = client.post("/api/v1/workflows", headers={**bearer, **FORWARDED_HTTPS}, json={
        "name": "Hook", "definition": {"trigger": {"type": "webhook"},
                                       "steps": [{"id": "a", "uses": "core.set", "with": {"x": 1}}]}})

    assert created.get_json()["webhook_url"].startswith("http://localhost/hooks/")
