"""Security headers: pages carry a Content-Security-Policy without any inline allowance, no framing,
nosniff and a same-origin referrer policy; API and webhook answers carry nosniff and no page policy."""

from __future__ import annotations

from automation.web.security import CONTENT_SECURITY_POLICY
from tests.web.conftest import PASSWORD, submit


def test_a_page_forbids_inline_code_framing_and_foreign_sources(client, owner):
    page = client.get("/login")

    policy = page.headers["Content-Security-Policy"]
    assert policy == CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in policy and "img-src 'self' data:" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "same-origin"


def test_signed_in_pages_and_redirects_carry_the_same_headers(client, owner):
    signed_in = submit(client, "/login", {"email": owner, "password": PASSWORD})
    gallery = client.get("/templates")

    for answer in (signed_in, gallery):
        assert answer.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert answer.headers["X-Frame-Options"] == "DENY"
    assert gallery.status_code == 200


def test_a_page_that_is_not_there_carries_them_too(client, owner):
    missing = client.get("/no-such-page")

    assert missing.status_code == 404
    assert missing.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_api_answers_are_nosniff_without_a_page_policy(client, bearer):
    listed = client.get("/api/v1/workflows", headers=bearer)
    refused = client.get("/api/v1/workflows")

    for answer in (listed, refused):
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert "Content-Security-Policy" not in answer.headers
        assert "X-Frame-Options" not in answer.headers


def test_webhook_answers_are_nosniff_without_a_page_policy(client):
    answer = client.post("/hooks/no-such-hook-token-at-all", json={})

    assert answer.status_code == 404
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" not in answer.headers
