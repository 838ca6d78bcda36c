"""Fixtures for the pages: a test client that fills in CSRF tokens like a browser form would, signed-in
clients for each role, and (for the Chromium tests) a live server and a headless browser."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from automation.accounts import create_user
from automation.models import db

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_token(client: FlaskClient, path: str) -> str:
    """The CSRF token of the form on ``path``, as a browser would have it."""
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    found = CSRF.search(page.get_data(as_text=True))
    assert found, f"no CSRF token in the form on {path}"
    return found.group(1) or found.group(2)


def field_error(page: str, name: str) -> str:
    """The error text shown under the form field ``name`` ('' when it has none)."""
    found = re.search(rf'id="f-{re.escape(name)}-error"[^>]*>([^<]*)<', page)
    assert found, f"no field {name!r} on the page"
    return found.group(1).strip()


def submit(client: FlaskClient, path: str, data: dict[str, Any], *, form_path: str | None = None) -> Any:
    """POST ``data`` to ``path`` with the CSRF token of the form on ``form_path`` (default: ``path``)."""
    return client.post(path, data={**data, "csrf_token": csrf_token(client, form_path or path)})


def rows(app: Flask, query: Callable[[], Any]) -> Any:
    """Run ``query`` in an app context of its own. Page tests keep no app context pushed: requests would
    share it, and Flask-WTF caches one session's CSRF token in ``g`` for the next client to trip over."""
    with app.app_context():
        return query()


@pytest.fixture
def sign_in(app: Flask) -> Callable[..., FlaskClient]:
    """``sign_in("viewer")``: a client signed in as a new user with that role (the first one is the owner)."""

    def make(role: str = "owner", email: str | None = None) -> FlaskClient:
        email = email or f"{role}@example.com"
        rows(app, lambda: create_user(email, PASSWORD, role, name=role.title()) and None)
        client = app.test_client()
        response = submit(client, "/login", {"email": email, "password": PASSWORD})
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return make


@pytest.fixture
def owner_client(sign_in: Callable[..., FlaskClient]) -> FlaskClient:
    return sign_in("owner")


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app served on 127.0.0.1 by a threaded server, for the browser; stopped after the test."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    with app.app_context():
        db.session.remove()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
