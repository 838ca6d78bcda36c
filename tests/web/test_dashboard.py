"""The home dashboard: run counts, success rate, failing workflows and pending approvals from the
workspace's rows, worker and scheduler health from Redis, and a welcome for a new install."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from rq import Queue, Worker
from rq.worker import WorkerStatus

from automation import workflows
from automation.accounts import default_workspace
from automation.leader import beat, heartbeat_key
from automation.models import ApprovalTask, Execution, Workflow, Workspace, db
from automation.redis_client import get_redis
from tests.web.conftest import rows

pytestmark = pytest.mark.storage

MANUAL = {"trigger": {"type": "manual"}, "steps": [{"id": "a", "uses": "core.set", "with": {"x": 1}}]}


def add_workflow(app, name: str, workspace_name: str | None = None) -> int:
    def create():
        workspace = (db.session.query(Workspace).filter_by(name=workspace_name).one() if workspace_name
                     else default_workspace())
        return workflows.create_workflow(workspace.id, name, MANUAL).id
    return rows(app, create)


def add_runs(app, workflow_id: int, status: str, ages: list[timedelta]) -> list[int]:
    """Runs of the workflow that started ``ages`` ago, with ``status``."""
    now = datetime.now(UTC)

    def create():
        workflow = db.session.get(Workflow, workflow_id)
        version_id = workflow.versions[-1].id
        made = [Execution(workspace_id=workflow.workspace_id, workflow_id=workflow.id, version_id=version_id,
                          status=status, trigger_kind="manual", correlation_id=f"c-{status}-{i}",
                          created_at=now - age) for i, age in enumerate(ages)]
        db.session.add_all(made)
        db.session.commit()
        return [e.id for e in made]
    return rows(app, create)


def stat(page: str, name: str) -> str:
    found = re.search(rf'id="stat-{name}">([^<]*)<', page)
    assert found, f"no stat {name}"
    return found.group(1).strip()


def since_midnight() -> timedelta:
    now = datetime.now(UTC)
    return min(timedelta(minutes=1), now - now.replace(hour=0, minute=0, second=0, microsecond=0))


def test_a_new_install_is_welcomed_with_a_link_to_the_templates(owner_client):
    page = owner_client.get("/").get_data(as_text=True)
    assert "You have no workflows yet" in page
    assert 'href="/templates"' in page
    assert 'id="stat-today"' not in page


def test_the_numbers_match_the_runs_of_the_workspace(owner_client, app):
    leads = add_workflow(app, "Leads")
    orders = add_workflow(app, "Orders")
    today = since_midnight()
    add_runs(app, leads, "succeeded", [today, timedelta(days=2), timedelta(days=3)])
    add_runs(app, leads, "failed", [timedelta(days=1)])
    add_runs(app, orders, "failed", [today, timedelta(days=6)])
    add_runs(app, orders, "cancelled", [timedelta(days=4)])
    add_runs(app, orders, "running", [today])
    add_runs(app, orders, "failed", [timedelta(days=8), timedelta(days=30)])  # older than a week
    rows(app, lambda: db.session.add(Workspace(name="Other")) or db.session.commit())
    add_runs(app, add_workflow(app, "Theirs", "Other"), "failed", [today, today])

    page = owner_client.get("/").get_data(as_text=True)

    assert stat(page, "today") == "3"
    assert stat(page, "week") == "8"
    assert stat(page, "success") == "50%"  # 3 succeeded of 6 finished; cancelled left out
    failing = re.findall(r'<a href="/workflows/(\d+)">([^<]+)</a>\s*<span class="badge failed">(\d+) failed', page)
    assert failing == [(str(orders), "Orders", "2"), (str(leads), "Leads", "1")]
    assert "Theirs" not in page


def test_the_success_rate_is_a_dash_without_finished_runs(owner_client, app):
    add_runs(app, add_workflow(app, "Leads"), "running", [timedelta(minutes=1)])
    page = owner_client.get("/").get_data(as_text=True)
    assert stat(page, "success") == "–"
    assert "No failed runs in the last 7 days." in page


def test_pending_approvals_are_counted(owner_client, app):
    execution_id = add_runs(app, add_workflow(app, "Refunds"), "waiting", [timedelta(minutes=1)])[0]

    def tasks():
        workspace_id = default_workspace().id
        for step, status in (("a", "pending"), ("b", "pending"), ("c", "approved")):
            db.session.add(ApprovalTask(workspace_id=workspace_id, execution_id=execution_id, step_id=step,
                                        title="Refund?", status=status))
        db.session.commit()
    rows(app, tasks)

    assert stat(owner_client.get("/").get_data(as_text=True), "approvals") == "2"


def test_the_scheduler_shows_as_not_running_without_a_heartbeat_and_running_after_one(owner_client, app):
    assert "No scheduler heartbeat" in owner_client.get("/").get_data(as_text=True)

    key = heartbeat_key(app.config["RELAY_QUEUE"])
    beat(get_redis(app), key, "host:1:abc", 30)
    assert re.search(r'<span class="badge active">running</span> last heartbeat <time',
                     owner_client.get("/").get_data(as_text=True))

    old = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    get_redis(app).set(key, json.dumps({"leader": "host:1:abc", "at": old}), ex=30)
    assert '<span class="badge waiting">stale</span>' in owner_client.get("/").get_data(as_text=True)


def test_workers_of_the_queue_are_listed_with_their_heartbeat(owner_client, app):
    assert "No worker is running" in owner_client.get("/").get_data(as_text=True)

    name = f"{app.config['RELAY_QUEUE']}-worker-1"
    worker = Worker([Queue(app.config["RELAY_QUEUE"], connection=get_redis(app))], connection=get_redis(app),
                    name=name)
    worker.register_birth()
    try:
        worker.set_state(WorkerStatus.IDLE)
        worker.heartbeat()
        page = owner_client.get("/").get_data(as_text=True)
    finally:
        worker.register_death()
    assert '<span class="badge active">1 running</span>' in page
    assert re.search(rf"{name} · idle · last heartbeat <time", page)


def test_an_unreachable_redis_is_reported_instead_of_failing(owner_client, app):
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    app.extensions["relay_redis"] = None
    response = owner_client.get("/")
    assert response.status_code == 200
    assert "Redis unreachable" in response.get_data(as_text=True)
