"""GET /api/health/workflows, the older guides' endpoint: with an API token like the other older endpoints,
the caller's workspace only — queue depth and the oldest queued run's age, the last hour's runs and
failure rate, active workflows and those whose published version no longer validates."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from automation import connections
from automation.accounts import create_api_token, create_user
from automation.models import Execution, ExecutionEvent, Workflow, Workspace, db, utcnow

pytestmark = pytest.mark.storage
MANUAL = {"trigger": {"type": "manual"}, "steps": [{"id": "a", "uses": "core.set", "with": {"x": 1}}]}
SLACK_STEP = {"trigger": {"type": "manual"}, "steps": [
    {"id": "say", "uses": "slack.post_message", "connection": "Team Slack", "with": {"channel": "#a", "text": "hi"}},
]}


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


def token_for(email: str, workspace: str | None = None) -> dict[str, str]:
    create_user(email, "correct horse battery", "owner", workspace=workspace)
    return {"Authorization": f"Bearer {create_api_token(email, workspace=workspace)}"}


@pytest.fixture
def owner(ctx: Flask) -> dict[str, str]:
    return token_for("owner@example.com")


@pytest.fixture
def other(owner: dict[str, str]) -> dict[str, str]:
    db.session.add(Workspace(name="Other"))
    db.session.commit()
    return token_for("other@example.com", workspace="Other")


def create_workflow(client: FlaskClient, headers: dict[str, str], definition: dict[str, Any] | None = None,
                    publish: bool = True) -> Workflow:
    created = client.post("/api/v1/workflows", json={"name": "Leads", "definition": definition or MANUAL},
                          headers=headers)
    assert created.status_code == 201, created.get_json()
    workflow_id = created.get_json()["id"]
    if publish:
        published = client.post(f"/api/v1/workflows/{workflow_id}/publish", headers=headers)
        assert published.status_code == 200, published.get_json()
    return db.session.get(Workflow, workflow_id)


def add_run(workflow: Workflow, status: str, created: datetime, *, queued_at: datetime | None = None) -> Execution:
    """A run as the engine leaves it: the row, and its status history ending with its move to ``status``."""
    execution = Execution(workspace_id=workflow.workspace_id, workflow_id=workflow.id,
                          version_id=workflow.current_version_id, status=status, trigger_kind="manual",
                          correlation_id="c", created_at=created)
    db.session.add(execution)
    db.session.flush()
    history = [(None, "queued", created)]
    if queued_at is not None:  # failed, then retried: queued again later
        history += [("queued", "running", created), ("running", "failed", created), ("failed", "queued", queued_at)]
    elif status != "queued":
        history.append(("queued", status, created))
    for before, after, at in history:
        db.session.add(ExecutionEvent(workspace_id=workflow.workspace_id, execution_id=execution.id,
                                      from_status=before, to_status=after, at=at))
    db.session.commit()
    return execution


def health(client: FlaskClient, headers: dict[str, str]) -> dict[str, Any]:
    response = client.get("/api/health/workflows", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_needs_an_api_token_like_the_other_older_endpoints(client, owner):
    response = client.get("/api/health/workflows")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_reports_queue_depth_and_the_age_of_the_run_queued_longest(client, owner):
    workflow = create_workflow(client, owner)
    now = utcnow()
    add_run(workflow, "queued", now - timedelta(seconds=90))
    add_run(workflow, "queued", now - timedelta(seconds=30))
    add_run(workflow, "running", now - timedelta(seconds=600))
    add_run(workflow, "succeeded", now - timedelta(seconds=900))

    body = health(client, owner)

    assert body["queue_depth"] == 2
    assert 90 <= body["oldest_queued_age_seconds"] < 100


def test_a_retried_run_counts_its_queue_age_from_its_latest_move_to_queued(client, owner):
    workflow = create_workflow(client, owner)
    now = utcnow()
    add_run(workflow, "queued", now - timedelta(hours=2), queued_at=now - timedelta(seconds=20))

    body = health(client, owner)

    assert body["queue_depth"] == 1
    assert 20 <= body["oldest_queued_age_seconds"] < 30


def test_an_empty_queue_has_no_oldest_age(client, owner):
    body = health(client, owner)

    assert body["queue_depth"] == 0
    assert body["oldest_queued_age_seconds"] is None


def test_counts_the_last_hours_runs_and_their_failure_rate(client, owner):
    workflow = create_workflow(client, owner)
    now = utcnow()
    for status in ["succeeded", "succeeded", "succeeded", "failed", "cancelled", "running"]:
        add_run(workflow, status, now - timedelta(minutes=30))
    for _ in range(5):
        add_run(workflow, "failed", now - timedelta(minutes=90))  # before the hour: not counted

    body = health(client, owner)

    # 1 failed of 4 finished (cancelled and running runs are not finished successes or failures)
    assert body["last_hour"] == {"runs": 6, "succeeded": 3, "failed": 1, "failure_rate": 0.25}


def test_lists_an_active_workflow_whose_connection_was_deleted_as_invalid(client, owner):
    broken = create_workflow(client, owner, SLACK_STEP, publish=False)
    slack = connections.create_connection(broken.workspace_id, "Team Slack", "slack",
                                          {"bot_token": "xoxb-" + "1" * 24})
    assert client.post(f"/api/v1/workflows/{broken.id}/publish", headers=owner).status_code == 200
    create_workflow(client, owner)
    create_workflow(client, owner, publish=False)  # a draft is not active
    connections.delete_connection(slack)

    body = health(client, owner)

    assert body["active_workflows"] == 2
    assert body["invalid_workflows"] == 1
    assert body["invalid"] == [{"id": broken.id, "name": "Leads", "problems": [
        {"path": "steps.say.connection", "message": "connection 'Team Slack' does not exist in this workspace"}]}]


def test_counts_only_the_callers_workspace(client, owner, other):
    mine = create_workflow(client, owner)
    theirs = create_workflow(client, other)
    now = utcnow()
    add_run(mine, "queued", now - timedelta(seconds=10))
    add_run(theirs, "queued", now - timedelta(seconds=500))
    add_run(theirs, "failed", now - timedelta(minutes=5))

    body = health(client, owner)

    assert body["queue_depth"] == 1
    assert body["oldest_queued_age_seconds"] < 100
    assert body["last_hour"]["runs"] == 1
    assert body["active_workflows"] == 1
