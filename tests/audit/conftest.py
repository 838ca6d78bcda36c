"""Audit fixtures: an owner, an editor and a viewer with bearer tokens, API and page clients calling from a
known address, a connection with a secret, and helpers to read the entries a step added."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from automation.accounts import create_api_token, create_user
from automation.models import AuditLog, db
from tests.web.conftest import PASSWORD, submit

# Every request of these tests comes from here, so an entry's ``ip`` is the request's, not a default.
IP = "203.0.113.7"
SIGNING_SECRET = "whsec_" + base64.b64encode(b"audit-secret-" * 3).decode()
MANUAL = {"trigger": {"type": "manual"}, "steps": [{"id": "a", "uses": "core.set", "with": {"x": 1}}]}
EDITED = {"trigger": {"type": "manual"}, "steps": [{"id": "a", "uses": "core.set", "with": {"x": 2}}]}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    test_client = app.test_client()
    test_client.environ_base["REMOTE_ADDR"] = IP
    return test_client


@pytest.fixture
def owner(ctx: Flask) -> dict[str, str]:
    create_user("owner@example.com", PASSWORD, "owner")
    return bearer(create_api_token("owner@example.com"))


@pytest.fixture
def editor(owner: dict[str, str]) -> dict[str, str]:
    create_user("editor@example.com", PASSWORD, "editor")
    return bearer(create_api_token("editor@example.com"))


@pytest.fixture
def viewer(owner: dict[str, str]) -> dict[str, str]:
    create_user("viewer@example.com", PASSWORD, "viewer")
    return bearer(create_api_token("viewer@example.com"))


@pytest.fixture
def page_client(owner: dict[str, str], app: Flask) -> FlaskClient:
    """The owner signed in through the sign-in form, from ``IP``."""
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = IP
    response = submit(browser, "/login", {"email": "owner@example.com", "password": PASSWORD})
    assert response.status_code == 302
    return browser


@pytest.fixture
def workflow(client: FlaskClient, owner: dict[str, str]) -> dict[str, Any]:
    """A draft workflow created through the API (one ``workflow.create`` entry)."""
    response = client.post("/api/v1/workflows", json={"name": "Leads", "definition": MANUAL}, headers=owner)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def connection(client: FlaskClient, owner: dict[str, str]) -> dict[str, Any]:
    """A webhook connection whose signing secret must never reach the audit trail."""
    response = client.post("/api/v1/connections", headers=owner, json={
        "name": "Orders hook", "connector": "webhook",
        "fields": {"signing_secret": SIGNING_SECRET, "headers": {"X-Team": "ops"}}})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def last_id() -> int:
    """Where the trail stands now: pass it to ``added`` after the step under test."""
    return db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(AuditLog.id), 0))) or 0


def added(since: int) -> list[AuditLog]:
    """The entries added after ``since``, oldest first, read fresh from the database."""
    db.session.expire_all()
    return list(db.session.scalars(sa.select(AuditLog).where(AuditLog.id > since).order_by(AuditLog.id)))


@pytest.fixture
def mark(ctx: Flask) -> Callable[[], int]:
    return last_id


def raw_row(entry_id: int) -> str:
    """Every column of the stored row as text, to look for a secret anywhere in it."""
    return repr(tuple(db.session.execute(sa.text("SELECT * FROM audit_log WHERE id = :id"), {"id": entry_id}).one()))
