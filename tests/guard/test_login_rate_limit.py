"""The sign-in limit (``RELAY_LOGIN_RATE_LIMIT``): attempts are counted per email and client address; past
the limit the sign-in page answers 429 with Retry-After and says why, even to the right password. Behind
``RELAY_PROXY_FIX`` the client address is the one the trusted proxy saw; without it a forged
X-Forwarded-For changes nothing."""

from __future__ import annotations

import pytest

from tests.web.conftest import PASSWORD, csrf_token, field_error

TWO_PER_MINUTE = pytest.mark.settings(RELAY_LOGIN_RATE_LIMIT="2/minute")
WRONG = "not the password"


def attempt(client, email, password=PASSWORD, address=None):
    """One sign-in as the form sends it, from ``address`` as a proxy would report it (X-Forwarded-For)."""
    headers = {"X-Forwarded-For": address} if address else None
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": csrf_token(client, "/login")}, headers=headers)


@TWO_PER_MINUTE
def test_attempts_over_the_limit_get_429_with_retry_after_and_the_reason_on_the_page(client, owner):
    answers = [attempt(client, owner, WRONG) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert "too many sign-in attempts" in field_error(answers[2].get_data(as_text=True), "password")
    assert 1 <= int(answers[2].headers["Retry-After"]) <= 60


@TWO_PER_MINUTE
def test_past_the_limit_even_the_right_password_does_not_sign_in(client, owner):
    for _ in range(2):
        attempt(client, owner, WRONG)

    answer = attempt(client, owner)

    assert answer.status_code == 429
    assert client.get("/").headers["Location"].startswith("/login")


@TWO_PER_MINUTE
def test_another_email_from_the_same_address_has_its_own_allowance(client, owner):
    for _ in range(3):
        attempt(client, "someone.else@example.com", WRONG)

    assert attempt(client, owner).status_code == 302


@TWO_PER_MINUTE
def test_showing_the_sign_in_page_is_not_an_attempt(client, owner):
    for _ in range(5):
        assert client.get("/login").status_code == 200

    assert attempt(client, owner).status_code == 302


@pytest.mark.settings(RELAY_LOGIN_RATE_LIMIT="2/minute", RELAY_PROXY_FIX=1)
def test_behind_a_trusted_proxy_each_client_address_has_its_own_allowance(client, owner):
    for _ in range(2):
        attempt(client, owner, WRONG, address="203.0.113.7")

    refused = attempt(client, owner, WRONG, address="203.0.113.7")
    other = attempt(client, owner, WRONG, address="198.51.100.9")

    assert refused.status_code == 429
    assert other.status_code == 200
    assert field_error(other.get_data(as_text=True), "password") == "the email or the password is not right"


@TWO_PER_MINUTE
def test_without_a_trusted_proxy_a_forged_forwarded_for_does_not_escape_the_limit(client, owner):
    for number in range(2):
        attempt(client, owner, WRONG, address=f"203.0.113.{number}")

    refused = attempt(client, owner, WRONG, address="198.51.100.9")

    assert refused.status_code == 429
