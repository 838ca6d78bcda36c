"""CORS for /api: off by default; with RELAY_CORS_ORIGINS the listed origins' preflights are answered
before the token check and their answers name them, never with credentials; other origins get nothing."""

from __future__ import annotations

import pytest

from automation.config import ConfigError, Settings

APP_ORIGIN = "https://app.example.com"
ALLOWED = pytest.mark.settings(RELAY_CORS_ORIGINS=(APP_ORIGIN,))
PREFLIGHT = {"Origin": APP_ORIGIN, "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization, content-type"}


def test_by_default_no_origin_is_allowed(client, bearer):
    answer = client.get("/api/v1/workflows", headers={**bearer, "Origin": APP_ORIGIN})
    preflight = client.options("/api/v1/workflows", headers=PREFLIGHT)

    assert answer.status_code == 200
    assert "Access-Control-Allow-Origin" not in answer.headers
    assert "Access-Control-Allow-Origin" not in preflight.headers


@ALLOWED
def test_an_allowed_origins_preflight_is_answered_without_a_token(client):
    preflight = client.options("/api/v1/workflows", headers=PREFLIGHT)

    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    allowed_headers = preflight.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed_headers and "content-type" in allowed_headers
    assert int(preflight.headers["Access-Control-Max-Age"]) > 0
    assert "Access-Control-Allow-Credentials" not in preflight.headers


@ALLOWED
def test_an_allowed_origins_request_names_the_origin_and_never_allows_credentials(client, bearer):
    answer = client.get("/api/v1/workflows", headers={**bearer, "Origin": APP_ORIGIN})

    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "Origin" in answer.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in answer.headers


@ALLOWED
def test_errors_to_an_allowed_origin_are_readable_by_its_script(client):
    refused = client.get("/api/v1/workflows", headers={"Origin": APP_ORIGIN})

    assert refused.status_code == 401
    assert refused.headers["Access-Control-Allow-Origin"] == APP_ORIGIN


@ALLOWED
def test_another_origin_gets_no_cors_headers(client, bearer):
    answer = client.get("/api/v1/workflows", headers={**bearer, "Origin": "https://evil.example.net"})
    preflight = client.options("/api/v1/workflows", headers={**PREFLIGHT, "Origin": "https://evil.example.net"})

    assert "Access-Control-Allow-Origin" not in answer.headers
    assert preflight.status_code == 401
    assert "Access-Control-Allow-Origin" not in preflight.headers


@ALLOWED
def test_pages_get_no_cors_headers(client, owner):
    page = client.get("/login", headers={"Origin": APP_ORIGIN})

    assert "Access-Control-Allow-Origin" not in page.headers


@pytest.mark.settings(RELAY_CORS_ORIGINS=("*",))
def test_a_star_allows_every_origin_without_credentials(client, bearer):
    answer = client.get("/api/v1/workflows", headers={**bearer, "Origin": "https://anywhere.example.org"})

    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in answer.headers


def test_the_setting_takes_a_list_of_origins():
    parsed = Settings.from_env({"RELAY_CORS_ORIGINS": "https://App.example.com/, http://localhost:3000"})

    assert parsed.RELAY_CORS_ORIGINS == ("https://app.example.com", "http://localhost:3000")


@pytest.mark.parametrize("value", ["app.example.com", "https://app.example.com/api", "ftp://app.example.com"])
def test_an_origin_with_a_path_or_without_a_scheme_stops_start_up_naming_the_variable(value):
    with pytest.raises(ConfigError, match="^RELAY_CORS_ORIGINS: .*" ):
        Settings.from_env({"RELAY_CORS_ORIGINS": value})
