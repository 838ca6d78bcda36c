"""Fixtures for incoming-webhook tests: an owner's API token, webhook workflows created and published
through the API, ``webhook_secret`` connections, the stored executions, and a real threaded HTTP server.

``@pytest.mark.settings(NAME=value)`` changes the app's settings for one test (a tiny rate limit, say).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from automation.accounts import create_api_token, create_user
from automation.models import Execution, db

STEPS = [{"id": "echo", "uses": "core.set", "with": {"name": "{{ trigger.body.name | default('nobody') }}"}}]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "settings(**values): app settings for this test only")


@pytest.fixture
def settings(settings: dict[str, Any], request: pytest.FixtureRequest) -> dict[str, Any]:
    marker = request.node.get_closest_marker("settings")
    return {**settings, **(marker.kwargs if marker else {})}


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


@pytest.fixture
def owner(ctx: Flask) -> dict[str, str]:
    create_user("owner@example.com", "correct horse battery", "owner")
    return {"Authorization": f"Bearer {create_api_token('owner@example.com')}"}


def webhook(steps: list[dict[str, Any]] | None = None, **trigger: Any) -> dict[str, Any]:
    """A definition with a webhook trigger carrying ``trigger`` options."""
    return {"trigger": {"type": "webhook", **trigger}, "steps": steps or STEPS}


@pytest.fixture
def make_hook(client: FlaskClient, owner: dict[str, str]) -> Callable[..., dict[str, Any]]:
    """Create (and by default publish) a workflow; the answer gains ``path``, the hook's path."""

    def make(definition: dict[str, Any] | None = None, publish: bool = True,
             params: dict[str, Any] | None = None) -> dict[str, Any]:
        body = {"name": "Hook", "definition": definition or webhook(), "params": params or {}}
        created = client.post("/api/v1/workflows", json=body, headers=owner)
        assert created.status_code == 201, created.get_json()
        workflow = created.get_json()
        if publish:
            published = client.post(f"/api/v1/workflows/{workflow['id']}/publish", headers=owner)
            assert published.status_code == 200, published.get_json()
            workflow = published.get_json()
        return {**workflow, "path": hook_path(workflow)}

    return make


def hook_path(workflow: dict[str, Any]) -> str:
    return "/hooks/" + workflow["webhook_url"].rsplit("/hooks/", 1)[1]


@pytest.fixture
def make_secret(client: FlaskClient, owner: dict[str, str]) -> Callable[[str, str], None]:
    def make(name: str, secret: str) -> None:
        created = client.post("/api/v1/connections", headers=owner,
                              json={"name": name, "connector": "webhook_secret", "fields": {"secret": secret}})
        assert created.status_code == 201, created.get_json()

    return make


def stored_executions() -> list[Execution]:
    """Every execution row, read afresh."""
    db.session.rollback()
    return list(db.session.scalars(sa.select(Execution).order_by(Execution.id)))


def trigger_of(response: Any) -> dict[str, Any]:
    """The stored ``trigger`` of the run a hook response names."""
    execution_id = int(response.headers["X-Relay-Execution-Id"])
    db.session.rollback()
    execution = db.session.get(Execution, execution_id)
    assert execution is not None
    return execution.trigger


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app on a real threaded HTTP server at 127.0.0.1, on a free port; its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
