"""Rate limits on the app's Redis (Flask-Limiter): one per webhook URL, ``RELAY_HOOK_RATE_LIMIT``.

Each app gets its own ``Limiter`` (kept in ``app.extensions``) rather than a module-level one, because
``init_app`` stores the storage on the instance and a second app would take the first one's over.

Redis down: the limiter fails open. Flask-Limiter's ``swallow_errors`` logs the error (logger
``flask-limiter``) and lets the request through, so an outage of the limiter's store never refuses
deliveries; the runs themselves are safe in the database and the reaper enqueues them once Redis is back.
Short socket timeouts keep a Redis that does not answer from holding each request for long.
"""

from __future__ import annotations

import logging
import math
import re
import time

import redis
from flask import Blueprint, Flask, current_app, request
from flask_limiter import Limiter

EXTENSION_KEY = "relay_limiter"
# Hook tokens are secrets.token_urlsafe(24); anything else is answered 404 without touching Redis.
HOOK_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
REDIS_TIMEOUT_SECONDS = 1.0

log = logging.getLogger(__name__)


def storage_uri(redis_url: str) -> str:
    """``REDIS_URL`` as the ``limits`` library spells it: a unix socket is ``redis+unix://`` there."""
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url.removeprefix("unix://")
    return redis_url


def hook_token() -> str:
    return str((request.view_args or {}).get("token", ""))


def init_rate_limits(app: Flask, hooks: Blueprint) -> Limiter:
    limiter = Limiter(
        hook_token,
        storage_uri=storage_uri(app.config["REDIS_URL"]),
        storage_options={"socket_connect_timeout": REDIS_TIMEOUT_SECONDS, "socket_timeout": REDIS_TIMEOUT_SECONDS},
        # A moving window has no burst at window edges and knows exactly when the next request fits.
        strategy="moving-window",
        key_prefix="relay",
        swallow_errors=True,
        headers_enabled=False,
    )
    limiter.init_app(app)
    limiter.limit(app.config["RELAY_HOOK_RATE_LIMIT"],
                  exempt_when=lambda: not HOOK_TOKEN.match(hook_token()))(hooks)
    app.extensions[EXTENSION_KEY] = limiter
    return limiter


def retry_after() -> int:
    """Whole seconds until the limit just breached lets a request through again (at least 1)."""
    limiter: Limiter = current_app.extensions[EXTENSION_KEY]
    breached = limiter.current_limit
    if breached is None:
        return 1
    try:
        return max(1, math.ceil(breached.window.reset_time - time.time()))
    except redis.RedisError as exc:
        log.warning("rate limit window unreadable (%s); answering Retry-After with the whole window", exc)
        return int(breached.limit.get_expiry())
