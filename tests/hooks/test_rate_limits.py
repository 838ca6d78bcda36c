"""The per-hook rate limit (``RELAY_HOOK_RATE_LIMIT``, Flask-Limiter on the app's Redis): 429 with
Retry-After past the limit, counted per hook URL, on a TCP or a unix-socket Redis, open when Redis is down."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app import create_app
from automation.embedded_redis import EmbeddedRedis
from automation.models import db
from automation.web.rate_limits import storage_uri
from tests.hooks.conftest import hook_path, stored_executions

TWO_PER_MINUTE = pytest.mark.settings(RELAY_HOOK_RATE_LIMIT="2/minute")


@TWO_PER_MINUTE
def test_requests_over_the_limit_get_429_with_retry_after(client, make_hook):
    path = make_hook()["path"]
    accepted = [client.post(path, json={}).status_code for _ in range(2)]

    refused = client.post(path, json={})

    assert accepted == [202, 202]
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert len(stored_executions()) == 2


@TWO_PER_MINUTE
def test_each_hook_has_its_own_limit(client, make_hook):
    first, second = make_hook()["path"], make_hook()["path"]
    for _ in range(3):
        client.post(first, json={})

    assert client.post(second, json={}).status_code == 202


def test_a_unix_socket_redis_url_maps_to_the_limits_librarys_scheme():
    assert storage_uri("unix:///run/redis.sock?db=1") == "redis+unix:///run/redis.sock?db=1"
    assert storage_uri("redis://cache:6379/0") == "redis://cache:6379/0"
    assert storage_uri("rediss://cache:6380/0") == "rediss://cache:6380/0"


@pytest.fixture
def app_on(app: Flask, settings: dict[str, Any]) -> Iterator[Any]:
    """Build a second app on the same database with other settings; dispose of it afterwards."""
    built: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        other = create_app({**settings, **overrides})
        built.append(other)
        return other

    yield build
    for other in built:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


def test_the_limit_works_on_an_embedded_unix_socket_redis(app_on, make_hook, tmp_path: Path):
    embedded = EmbeddedRedis(tmp_path / "redis").start()
    try:
        socket_app = app_on(REDIS_URL=embedded.url, RELAY_HOOK_RATE_LIMIT="1/minute")
        path = hook_path(make_hook())
        client = socket_app.test_client()

        statuses = [client.post(path, json={}).status_code for _ in range(2)]
    finally:
        embedded.stop()

    assert embedded.url.startswith("unix://")
    assert statuses == [202, 429]


def test_with_redis_down_the_limit_fails_open_and_logs_it(app_on, make_hook, caplog):
    down_app = app_on(REDIS_URL="redis://127.0.0.1:1/0", RELAY_HOOK_RATE_LIMIT="1/minute")
    path = hook_path(make_hook())
    client = down_app.test_client()

    with caplog.at_level(logging.WARNING):
        statuses = [client.post(path, json={}).status_code for _ in range(3)]

    assert statuses == [202, 202, 202]
    assert len(stored_executions()) == 3
    assert any(r.name == "flask-limiter" for r in caplog.records)
