"""The per-token API limit (``RELAY_API_RATE_LIMIT``): one allowance per token over all of /api, 429 with
Retry-After and the API's JSON error past it, counted in Redis under a hash of the token, never the token."""

from __future__ import annotations

import hashlib

import pytest
import redis

THREE_PER_MINUTE = pytest.mark.settings(RELAY_API_RATE_LIMIT="3/minute")


@THREE_PER_MINUTE
def test_requests_over_the_limit_get_429_with_retry_after_and_the_json_error(client, bearer):
    accepted = [client.get("/api/v1/workflows", headers=bearer).status_code for _ in range(3)]

    refused = client.get("/api/v1/workflows", headers=bearer)

    assert accepted == [200, 200, 200]
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "rate_limited"
    assert "3 per 1 minute" in refused.get_json()["error"]["message"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


@THREE_PER_MINUTE
def test_one_allowance_covers_every_endpoint_of_both_apis(client, bearer):
    for path in ("/api/v1/workflows", "/api/v1/tokens", "/api/workflows"):
        assert client.get(path, headers=bearer).status_code == 200

    assert client.post("/api/v1/workflows", json={}, headers=bearer).status_code == 429


@THREE_PER_MINUTE
def test_each_token_has_its_own_allowance(client, new_token):
    first, second = ({"Authorization": f"Bearer {new_token()}"} for _ in range(2))
    for _ in range(4):
        client.get("/api/v1/workflows", headers=first)

    assert client.get("/api/v1/workflows", headers=first).status_code == 429
    assert client.get("/api/v1/workflows", headers=second).status_code == 200


@THREE_PER_MINUTE
def test_requests_without_a_token_are_not_counted_against_anyone(client, bearer):
    for _ in range(5):
        assert client.get("/api/v1/workflows").status_code == 401

    assert client.get("/api/v1/workflows", headers=bearer).status_code == 200


@THREE_PER_MINUTE
def test_redis_holds_a_hash_prefix_of_the_token_never_the_token(client, bearer, settings):
    token = bearer["Authorization"].removeprefix("Bearer ")
    client.get("/api/v1/workflows", headers=bearer)

    keys = [key.decode() for key in redis.Redis.from_url(settings["REDIS_URL"]).scan_iter(
        match=f"*{settings['RELAY_QUEUE']}*api-token*", count=1000)]

    assert keys
    assert all(token not in key and token.removeprefix("rly_") not in key for key in keys)
    assert any(hashlib.sha256(token.encode()).hexdigest()[:16] in key for key in keys)
