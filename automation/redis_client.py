"""The app's Redis connection, created on first use from ``REDIS_URL`` (never at import time)."""

from __future__ import annotations

import redis
from flask import Flask, current_app

EXTENSION_KEY = "relay_redis"


def init_redis(app: Flask) -> None:
    app.extensions[EXTENSION_KEY] = None


def get_redis(app: Flask | None = None) -> redis.Redis:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    client = app.extensions.get(EXTENSION_KEY)
    if client is None:
        client = redis.Redis.from_url(
            app.config["REDIS_URL"], socket_connect_timeout=5, socket_timeout=30, health_check_interval=30
        )
        app.extensions[EXTENSION_KEY] = client
    return client
