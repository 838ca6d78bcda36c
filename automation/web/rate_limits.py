"""Rate limits on the app's Redis (Flask-Limiter): per webhook URL (``RELAY_HOOK_RATE_LIMIT``), per API
token over all of ``/api`` (``RELAY_API_RATE_LIMIT``) and per sign-in attempt, counted by email and client
address (``RELAY_LOGIN_RATE_LIMIT``). Every refusal is a 429 with ``Retry-After``: the API's JSON error
for programs, the sign-in page with the error shown for people.

Each app gets its own ``Limiter`` (kept in ``app.extensions``) rather than a module-level one, because
``init_app`` stores the storage on the instance and a second app would take the first one's over.
Counters are kept under the installation's ``RELAY_QUEUE``, like its leader lock, so two installations
sharing one Redis never count each other's requests. Keys never hold a token or an email: only a prefix
of their SHA-256.

Redis down: the limiter fails open. Flask-Limiter's ``swallow_errors`` logs the error (logger
``flask-limiter``) and lets the request through, so an outage of the limiter's store never refuses
deliveries; the runs themselves are safe in the database and the reaper enqueues them once Redis is back.
Short socket timeouts keep a Redis that does not answer from holding each request for long.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import time

import redis
from flask import Blueprint, Flask, Response, current_app, render_template, request
from flask_limiter import Limiter, RateLimitExceeded

from automation.web.errors import error_response

EXTENSION_KEY = "relay_limiter"
# Hook tokens are secrets.token_urlsafe(24); anything else is answered 404 without touching Redis.
HOOK_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
REDIS_TIMEOUT_SECONDS = 1.0
# The blueprints whose views take a bearer token (automation/web/api.py, api_compat.py).
API_BLUEPRINTS = ("api", "api_compat")
LOGIN_ENDPOINT = "pages.login"
KEY_HASH_CHARS = 16

log = logging.getLogger(__name__)


def storage_uri(redis_url: str) -> str:
    """``REDIS_URL`` as the ``limits`` library spells it: a unix socket is ``redis+unix://`` there."""
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url.removeprefix("unix://")
    return redis_url


def hook_token() -> str:
    return str((request.view_args or {}).get("token", ""))


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:KEY_HASH_CHARS]


def bearer_token() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def api_token_key() -> str:
    """The caller's token as a hash prefix; a wrong token is counted under its own hash like a right one."""
    return "token:" + _digest(bearer_token())


def login_key() -> str:
    email = str(request.form.get("email", "")).strip().lower()
    return f"login:{_digest(email)}:{request.remote_addr or 'unknown'}"


def init_rate_limits(app: Flask, hooks: Blueprint) -> Limiter:
    limiter = Limiter(
        hook_token,
        storage_uri=storage_uri(app.config["REDIS_URL"]),
        storage_options={"socket_connect_timeout": REDIS_TIMEOUT_SECONDS, "socket_timeout": REDIS_TIMEOUT_SECONDS},
        # A moving window has no burst at window edges and knows exactly when the next request fits.
        strategy="moving-window",
        key_prefix=f"relay:{app.config['RELAY_QUEUE']}",
        swallow_errors=True,
        headers_enabled=False,
    )
    limiter.init_app(app)
    limiter.limit(app.config["RELAY_HOOK_RATE_LIMIT"],
                  exempt_when=lambda: not HOOK_TOKEN.match(hook_token()))(hooks)
    # Shared: one allowance per token over every API endpoint, not one per endpoint.
    api_limit = limiter.shared_limit(app.config["RELAY_API_RATE_LIMIT"], scope="api-token",
                                     key_func=api_token_key, exempt_when=lambda: not bearer_token())
    for name in API_BLUEPRINTS:
        api_limit(app.blueprints[name])
    # Only the form posts count: showing the sign-in page is not an attempt.
    limiter.shared_limit(app.config["RELAY_LOGIN_RATE_LIMIT"], scope="login", key_func=login_key,
                         methods=["POST"],
                         exempt_when=lambda: request.endpoint != LOGIN_ENDPOINT)(app.blueprints["pages"])
    app.register_error_handler(RateLimitExceeded, _too_many_requests)
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


def _too_many_requests(exc: RateLimitExceeded) -> Response | tuple[str, int, dict[str, str]]:
    """The sign-in page's 429, or the API's (the webhooks answer their own, automation/web/hooks.py)."""
    seconds = retry_after()
    headers = {"Retry-After": str(seconds)}
    if request.endpoint == LOGIN_ENDPOINT:
        from automation.web.pages.account import LoginForm  # noqa: PLC0415 - pages import the app's views

        form = LoginForm()
        form.password.errors = [f"too many sign-in attempts; try again in {seconds} seconds"]
        return render_template("pages/login.html", form=form), 429, headers
    return error_response(429, f"too many requests with this API token (at most {exc.description}); retry "
                               f"in {seconds}s", headers=headers)
