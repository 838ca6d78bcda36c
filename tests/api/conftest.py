"""API fixtures: an owner, an editor-less viewer and a second workspace, each with a bearer token."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from automation.accounts import create_api_token, create_user
from automation.models import Workspace, db

MANUAL = {"trigger": {"type": "manual"}, "steps": [
    {"id": "a", "uses": "core.set", "with": {"x": "{{ trigger.body.x | default(1) }}"}},
]}
WEBHOOK = {"trigger": {"type": "webhook"}, "steps": [{"id": "a", "uses": "core.set", "with": {"y": 2}}]}


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def owner(ctx: Flask) -> dict[str, str]:
    create_user("owner@example.com", "correct horse battery", "owner")
    return bearer(create_api_token("owner@example.com"))


@pytest.fixture
def viewer(owner: dict[str, str]) -> dict[str, str]:
    create_user("viewer@example.com", "correct horse battery", "viewer")
    return bearer(create_api_token("viewer@example.com"))


@pytest.fixture
def other_workspace(owner: dict[str, str]) -> dict[str, str]:
    db.session.add(Workspace(name="Other"))
    db.session.commit()
    create_user("other@example.com", "correct horse battery", "owner", workspace="Other")
    return bearer(create_api_token("other@example.com", workspace="Other"))


@pytest.fixture
def make_workflow(client: FlaskClient, owner: dict[str, str]) -> Callable[..., dict[str, Any]]:
    def make(definition: dict[str, Any] | None = None, name: str = "Leads", publish: bool = True,
             headers: dict[str, str] | None = None) -> dict[str, Any]:
        headers = headers or owner
        response = client.post("/api/v1/workflows", json={"name": name, "definition": definition or MANUAL},
                               headers=headers)
        assert response.status_code == 201, response.get_json()
        workflow = response.get_json()
        if publish:
            published = client.post(f"/api/v1/workflows/{workflow['id']}/publish", headers=headers)
            assert published.status_code == 200, published.get_json()
            workflow = published.get_json()
        return workflow

    return make
