"""The runs list (filters, pages) and a run's page: steps with input, output and error, loop items, payload,
history, the JSON for live updates, retry and cancel, and who may press what."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from automation import engine, ingest, workflows
from automation.accounts import create_user, default_workspace
from automation.models import Execution, Workflow, Workspace, db
from tests.web.conftest import rows, submit

pytestmark = pytest.mark.storage

SET = {"trigger": {"type": "manual"}, "steps": [{"id": "note", "uses": "core.set", "with": {"x": 1}}]}


def failing(ledger: Path) -> dict[str, Any]:
    return {"trigger": {"type": "manual"}, "steps": [
        {"id": "note", "uses": "core.set", "with": {"greeting": "Hello {{ trigger.body.name }}"}},
        {"id": "call", "uses": "test.flaky", "with": {"ledger": str(ledger), "mark": "call", "failures": 9,
                                                      "retryable": False}},
    ]}


LOOP = {"trigger": {"type": "manual"}, "steps": [
    {"id": "each", "uses": "core.for_each", "with": {"items": "{{ trigger.body.people }}"}, "steps": [
        {"id": "greet", "uses": "core.set", "with": {"line": "Hi {{ item }}"}}]},
]}


def make_workflow(app: Flask, definition: dict[str, Any], name: str = "Leads", workspace: str | None = None) -> int:
    def create() -> int:
        ws = db.session.scalar(sa.select(Workspace).where(Workspace.name == workspace)) if workspace \
            else default_workspace()
        return workflows.publish(workflows.create_workflow(ws.id, name, definition)).id

    return rows(app, create)


def start(app: Flask, workflow_id: int, body: dict[str, Any] | None = None, *, run: bool = False) -> int:
    """A queued run of the workflow; with ``run``, run to its end in this process."""
    def go() -> int:
        workflow = db.session.get(Workflow, workflow_id)
        execution, _ = ingest.start_execution(workflow, trigger_kind="manual",
                                              payload=ingest.manual_payload(workflow, body or {}))
        if run:
            engine.run_execution(execution.id)
        return execution.id

    return rows(app, go)


def set_run(app: Flask, execution_id: int, **values: Any) -> None:
    def change() -> None:
        db.session.execute(sa.update(Execution).where(Execution.id == execution_id).values(**values))
        db.session.commit()

    rows(app, change)


def status_of(app: Flask, execution_id: int) -> str:
    return rows(app, lambda: db.session.get(Execution, execution_id).status)


def listed(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr data-run="(\d+)">', page)]


def text(response: Any) -> str:
    return response.get_data(as_text=True)


def test_the_runs_list_filters_by_workflow_status_and_date(owner_client, app):
    leads, digest = make_workflow(app, SET, "Leads"), make_workflow(app, SET, "Digest")
    old, new_lead, new_digest = start(app, leads), start(app, leads), start(app, digest)
    set_run(app, old, status="failed", created_at=datetime(2025, 1, 10, 12, tzinfo=UTC))
    set_run(app, new_lead, status="succeeded", created_at=datetime(2025, 2, 1, 8, tzinfo=UTC))
    set_run(app, new_digest, created_at=datetime(2025, 2, 1, 23, 59, tzinfo=UTC))

    assert listed(text(owner_client.get("/runs"))) == [new_digest, new_lead, old]
    assert listed(text(owner_client.get(f"/runs?workflow={leads}"))) == [new_lead, old]
    assert listed(text(owner_client.get("/runs?status=failed"))) == [old]
    assert listed(text(owner_client.get("/runs?from=2025-02-01&to=2025-02-01"))) == [new_digest, new_lead]
    assert listed(text(owner_client.get(f"/runs?workflow={leads}&to=2025-01-31"))) == [old]
    page = text(owner_client.get("/runs?from=yesterday"))
    assert re.search(r'id="f-from-error"\s*>a date such as 2025-03-31<', page)


def test_the_runs_list_pages_newest_first_and_keeps_the_filters(owner_client, app):
    workflow_id = make_workflow(app, SET)
    ids = [start(app, workflow_id) for _ in range(27)]

    first = text(owner_client.get(f"/runs?workflow={workflow_id}"))
    second = text(owner_client.get(f"/runs?workflow={workflow_id}&page=2"))

    assert listed(first) == ids[::-1][:25]
    assert listed(second) == ids[::-1][25:]
    assert f'href="/runs?page=2&amp;workflow={workflow_id}"' in first
    assert "Page 2 of 2" in second


def test_the_run_page_shows_each_steps_input_output_and_error_the_payload_and_the_history(
        owner_client, app, tmp_path):
    execution_id = start(app, make_workflow(app, failing(tmp_path / "ledger")), {"name": "Ada"}, run=True)

    page = text(owner_client.get(f"/runs/{execution_id}"))

    assert '<span class="badge failed" id="run-status">failed</span>' in page
    note = page[page.index('data-step="note"'):page.index('data-step="call"')]
    assert 'data-status="succeeded"' in note
    assert "&#34;greeting&#34;: &#34;Hello Ada&#34;" in note[note.index('class="step-input"'):]
    assert "&#34;greeting&#34;: &#34;Hello Ada&#34;" in note[note.index('class="step-output"'):]
    call = page[page.index('data-step="call"'):]
    assert 'data-status="failed"' in call
    assert "<strong>Error:</strong> planned failure 1 of 9" in call
    assert "&#34;name&#34;: &#34;Ada&#34;" in page[page.index('id="trigger-payload"'):]
    history = page[page.index('class="events"'):]
    assert "— → queued</td><td>started by manual" in history
    assert "queued → running" in history and "running → failed" in history
    assert "Refresh</a>" not in page


def test_loop_items_are_grouped_under_their_step_with_their_index(owner_client, app):
    execution_id = start(app, make_workflow(app, LOOP), {"people": ["Ada", "Grace"]}, run=True)

    page = text(owner_client.get(f"/runs/{execution_id}"))

    items = page[page.index('aria-label="Items of each"'):]
    assert re.findall(r'data-index="(\d+)"', items) == ["0", "1"]
    assert "&#34;line&#34;: &#34;Hi Ada&#34;" in items[:items.index('data-index="1"')]
    assert "&#34;line&#34;: &#34;Hi Grace&#34;" in items[items.index('data-index="1"'):]


def test_a_queued_run_polls_its_json_and_offers_a_refresh_link(owner_client, app):
    execution_id = start(app, make_workflow(app, SET))

    page = text(owner_client.get(f"/runs/{execution_id}"))
    data = owner_client.get(f"/runs/{execution_id}.json").get_json()
    fragment = text(owner_client.get(f"/runs/{execution_id}?fragment=1"))

    assert f'data-poll="/runs/{execution_id}.json"' in page and "runs.js" in page
    assert f'<a href="/runs/{execution_id}" class="refresh">Refresh</a>' in page
    assert (data["id"], data["status"], data["steps"]) == (execution_id, "queued", [])
    assert fragment.lstrip().startswith("<div data-status=\"queued\"") and "<html" not in fragment


def test_retry_queues_a_failed_run_again(owner_client, app, tmp_path):
    execution_id = start(app, make_workflow(app, failing(tmp_path / "ledger")), run=True)
    path = f"/runs/{execution_id}"

    response = submit(owner_client, f"{path}/retry", {}, form_path=path)

    assert (response.status_code, response.headers["Location"]) == (302, path)
    assert status_of(app, execution_id) == "queued"
    assert "Retrying" in text(owner_client.get(path))


def test_cancel_stops_a_queued_run(owner_client, app):
    execution_id = start(app, make_workflow(app, SET))
    path = f"/runs/{execution_id}"
    assert "Cancel</button>" in text(owner_client.get(path))

    submit(owner_client, f"{path}/cancel", {}, form_path=path)

    assert status_of(app, execution_id) == "cancelled"
    page = text(owner_client.get(path))
    assert "Cancel</button>" not in page and "Retry</button>" in page


def test_a_viewer_sees_no_retry_or_cancel_and_is_refused(app, sign_in):
    sign_in("owner")
    viewer = sign_in("viewer")
    execution_id = start(app, make_workflow(app, SET))
    path = f"/runs/{execution_id}"

    page = text(viewer.get(path))

    assert "Cancel</button>" not in page and "Retry</button>" not in page
    assert submit(viewer, f"{path}/cancel", {}, form_path=path).status_code == 403
    assert status_of(app, execution_id) == "queued"


def test_a_change_without_the_csrf_token_is_refused(owner_client, app):
    execution_id = start(app, make_workflow(app, SET))
    assert owner_client.post(f"/runs/{execution_id}/cancel").status_code == 400
    assert status_of(app, execution_id) == "queued"


def test_another_workspaces_run_is_not_found(owner_client, app):
    def other() -> None:
        db.session.add(Workspace(name="Other"))
        db.session.commit()
        create_user("other@example.com", "correct horse battery", "owner", workspace="Other")

    rows(app, other)
    theirs = start(app, make_workflow(app, SET, workspace="Other"))

    assert owner_client.get(f"/runs/{theirs}").status_code == 404
    assert owner_client.get(f"/runs/{theirs}.json").status_code == 404
    assert submit(owner_client, f"/runs/{theirs}/cancel", {}, form_path="/runs").status_code == 404
    assert status_of(app, theirs) == "queued"
    assert listed(text(owner_client.get("/runs"))) == []


def test_the_json_endpoint_needs_a_signed_in_user(client, app, sign_in):
    sign_in("owner")
    execution_id = start(app, make_workflow(app, SET))
    assert client.get(f"/runs/{execution_id}.json").status_code == 302
