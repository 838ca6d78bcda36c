"""Fixtures for workspaces, members, invitations and API tokens: a team of every role in the first
workspace ("Default") plus a second workspace ("Acme") that the owner also belongs to, bearer headers per
person, signed-in page clients, and readers of stored rows and audit entries.

Page and API requests run with no app context pushed (tests/web/conftest.py says why); reads of stored
rows go through ``rows`` in an app context of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from automation.accounts import create_api_token, create_user
from automation.members import create_workspace
from automation.models import AuditLog, Membership, User, Workspace, db
from tests.web.conftest import PASSWORD, rows, submit

PEOPLE = {
    "owner": ("olga@example.com", "owner"),
    "editor": ("ed@example.com", "editor"),
    "viewer": ("vic@example.com", "viewer"),
    "approver": ("ada@example.com", "approver"),
}
ACME_OWNER = "otto@example.com"


@dataclass
class Team:
    """Who is who: ``bearer[key]`` is a header with that person's token in Default, ``ids`` their user ids."""

    bearer: dict[str, dict[str, str]]
    ids: dict[str, int]
    default_id: int
    acme_id: int


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def team(app: Flask) -> Team:
    def build() -> Team:
        headers, ids = {}, {}
        for key, (email, role) in PEOPLE.items():
            ids[key] = create_user(email, PASSWORD, role, name=key.title()).id
            headers[key] = bearer(create_api_token(email, name=f"{key} token"))
        acme = create_workspace("Acme", owner=None)
        ids["acme_owner"] = create_user(ACME_OWNER, PASSWORD, "owner", workspace="Acme", name="Otto").id
        headers["acme_owner"] = bearer(create_api_token(ACME_OWNER, workspace="Acme"))
        create_user(PEOPLE["owner"][0], "", "editor", workspace="Acme")
        default = db.session.scalar(sa.select(Workspace).where(Workspace.name == "Default"))
        assert default is not None
        return Team(headers, ids, default.id, acme.id)

    return rows(app, build)


@pytest.fixture
def signed_in(app: Flask, team: Team) -> Callable[[str], FlaskClient]:
    """``signed_in("owner")``: a page client signed in as that person of the team (or as an email)."""

    def make(who: str) -> FlaskClient:
        email = PEOPLE[who][0] if who in PEOPLE else who
        client = app.test_client()
        response = submit(client, "/login", {"email": email, "password": PASSWORD})
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return make


def audit_entries(app: Flask, action: str | None = None) -> list[dict[str, Any]]:
    """The audit trail (optionally one action), oldest first, as plain values."""

    def read() -> list[dict[str, Any]]:
        query = sa.select(AuditLog).order_by(AuditLog.id)
        if action is not None:
            query = query.where(AuditLog.action == action)
        return [{"action": e.action, "actor": e.actor, "actor_user_id": e.actor_user_id, "workspace_id": e.workspace_id,
                 "target": e.target_id, "before": e.before, "after": e.after} for e in db.session.scalars(query)]

    return rows(app, read)


def role_of(app: Flask, email: str, workspace_id: int) -> str | None:
    return rows(app, lambda: db.session.scalar(
        sa.select(Membership.role).join(User, User.id == Membership.user_id)
        .where(User.email == email, Membership.workspace_id == workspace_id)))
