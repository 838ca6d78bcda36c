"""Every audited action leaves exactly one entry with the right actor, action, target and address, whatever
path made the change (API, pages, template, file import), and no secret in it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from automation import approval_sla, workflow_files
from automation.accounts import default_workspace
from automation.audit import SYSTEM
from automation.engine import run_execution
from automation.ingest import start_execution
from automation.models import Execution, ExecutionEvent, Workflow, db, utcnow
from automation.templates import library
from tests.approvals.conftest import approval_flow, create_people, publish_workflow, task_of
from tests.audit.conftest import EDITED, IP, MANUAL, PASSWORD, SIGNING_SECRET, added, raw_row
from tests.web.conftest import submit

pytestmark = pytest.mark.storage


def only(entries, action, actor="owner@example.com"):
    """The single entry of ``entries``, checked to be ``action`` by ``actor`` from ``IP``."""
    assert [(e.action, e.actor) for e in entries] == [(action, actor)]
    assert entries[0].ip == IP
    return entries[0]


def test_creating_a_workflow_records_it_with_its_first_version(client, owner, mark):
    since = mark()
    response = client.post("/api/v1/workflows", json={"name": "Leads", "definition": MANUAL}, headers=owner)
    entry = only(added(since), "workflow.create")
    assert (entry.target_type, entry.target_id) == ("workflow", str(response.get_json()["id"]))
    assert entry.before is None
    assert (entry.after["name"], entry.after["version"], entry.after["definition"]) == ("Leads", 1, MANUAL)


def test_editing_a_workflow_records_the_definition_before_and_after(client, owner, workflow, mark):
    since = mark()
    client.patch(f"/api/v1/workflows/{workflow['id']}", json={"definition": EDITED}, headers=owner)
    entry = only(added(since), "workflow.update")
    assert (entry.before["definition"], entry.after["definition"]) == (MANUAL, EDITED)
    assert (entry.before["version"], entry.after["version"]) == (1, 2)


def test_an_edit_that_changes_nothing_records_nothing(client, owner, workflow, mark):
    since = mark()
    response = client.patch(f"/api/v1/workflows/{workflow['id']}", json={"definition": MANUAL}, headers=owner)
    assert response.status_code == 200
    assert added(since) == []


def test_publishing_records_the_status_change(client, owner, workflow, mark):
    since = mark()
    client.post(f"/api/v1/workflows/{workflow['id']}/publish", headers=owner)
    entry = only(added(since), "workflow.publish")
    assert (entry.before["status"], entry.after["status"]) == ("draft", "active")
    assert (entry.before["published_version"], entry.after["published_version"]) == (None, 1)


def test_pausing_and_resuming_each_record_one_entry(client, owner, workflow, mark):
    client.post(f"/api/v1/workflows/{workflow['id']}/publish", headers=owner)
    since = mark()
    client.post(f"/api/v1/workflows/{workflow['id']}/pause", headers=owner)
    paused = only(added(since), "workflow.pause")
    since = mark()
    client.post(f"/api/v1/workflows/{workflow['id']}/resume", headers=owner)
    resumed = only(added(since), "workflow.resume")
    assert (paused.after["status"], resumed.after["status"]) == ("paused", "active")


def test_publishing_an_older_version_is_a_rollback(client, owner, workflow, mark):
    client.patch(f"/api/v1/workflows/{workflow['id']}", json={"definition": EDITED}, headers=owner)
    client.post(f"/api/v1/workflows/{workflow['id']}/publish", headers=owner)
    since = mark()
    response = client.post(f"/api/v1/workflows/{workflow['id']}/versions/1/publish", headers=owner)
    assert response.status_code == 200, response.get_json()
    entry = only(added(since), "workflow.rollback")
    assert (entry.before["published_version"], entry.after["published_version"]) == (2, 1)


def test_deleting_a_workflow_with_runs_deletes_them_and_records_one_entry(client, owner, workflow, mark):
    client.post(f"/api/v1/workflows/{workflow['id']}/publish", headers=owner)
    execution, _ = start_execution(db.session.get(Workflow, workflow["id"]), trigger_kind="manual",
                                   payload={"body": {}})
    run_execution(execution.id)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ExecutionEvent)) > 0
    since = mark()
    response = client.delete(f"/api/v1/workflows/{workflow['id']}", headers=owner)
    assert response.status_code == 204
    entry = only(added(since), "workflow.delete")
    assert (entry.target_id, entry.before["name"], entry.after) == (str(workflow["id"]), "Leads", None)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Execution)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ExecutionEvent)) == 0


def test_a_template_workflow_published_at_once_records_create_then_publish(client, owner, connection, mark):
    params = {**library()["webhook-relay"].examples(), "target_webhook": connection["name"]}
    since = mark()
    response = client.post("/api/v1/workflows", headers=owner,
                           json={"template": "webhook-relay", "params": params, "publish": True})
    assert response.status_code == 201, response.get_json()
    entries = added(since)
    assert [(e.action, e.actor, e.ip) for e in entries] == [
        ("workflow.create", "owner@example.com", IP), ("workflow.publish", "owner@example.com", IP)]
    assert entries[0].after["template"] == "webhook-relay"


def test_importing_a_file_through_the_api_records_one_create(client, owner, mark):
    since = mark()
    response = client.post("/api/v1/workflows/import", headers=owner,
                           json={"relay": 1, "name": "Imported", "definition": MANUAL})
    assert response.status_code == 201, response.get_json()
    assert only(added(since), "workflow.create").after["name"] == "Imported"


def test_importing_from_the_shell_records_relay_as_the_actor(owner, mark):
    since = mark()
    workspace = default_workspace(create=False)
    workflow_files.import_data(workspace.id, {"name": "From a file", "definition": MANUAL})
    [entry] = added(since)
    assert (entry.action, entry.actor, entry.actor_user_id, entry.ip) == ("workflow.create", SYSTEM, None, None)


def test_publishing_from_the_workflow_page_records_the_signed_in_owner(page_client, workflow, mark):
    since = mark()
    response = submit(page_client, f"/workflows/{workflow['id']}/publish", {},
                      form_path=f"/workflows/{workflow['id']}")
    assert response.status_code == 302
    only(added(since), "workflow.publish")


def test_creating_a_connection_records_only_whether_the_secret_is_set(client, owner, mark):
    since = mark()
    response = client.post("/api/v1/connections", headers=owner, json={
        "name": "Orders hook", "connector": "webhook", "fields": {"signing_secret": SIGNING_SECRET}})
    entry = only(added(since), "connection.create")
    assert (entry.target_type, entry.target_id) == ("connection", str(response.get_json()["id"]))
    assert entry.after["secrets"] == {"signing_secret": True}
    assert SIGNING_SECRET not in raw_row(entry.id)


def test_changing_a_connections_secret_never_stores_either_value(client, owner, connection, mark):
    new_secret = SIGNING_SECRET[:-4] + "QUJD"
    since = mark()
    client.patch(f"/api/v1/connections/{connection['id']}", headers=owner,
                 json={"name": "Renamed", "fields": {"signing_secret": new_secret}})
    entry = only(added(since), "connection.update")
    assert (entry.before["name"], entry.after["name"]) == ("Orders hook", "Renamed")
    row = raw_row(entry.id)
    assert SIGNING_SECRET not in row and new_secret not in row


def test_deleting_a_connection_records_what_it_was(client, owner, connection, mark):
    since = mark()
    client.delete(f"/api/v1/connections/{connection['id']}", headers=owner)
    entry = only(added(since), "connection.delete")
    assert (entry.before["name"], entry.after) == ("Orders hook", None)
    assert SIGNING_SECRET not in raw_row(entry.id)


def test_testing_a_connection_records_the_outcome(client, owner, connection, mark):
    since = mark()
    response = client.post(f"/api/v1/connections/{connection['id']}/test", headers=owner)
    assert response.get_json()["ok"] is True
    entry = only(added(since), "connection.test")
    assert entry.after["ok"] is True
    assert SIGNING_SECRET not in raw_row(entry.id)


def test_testing_a_connection_from_its_page_records_the_signed_in_owner(page_client, connection, mark):
    since = mark()
    response = submit(page_client, f"/connections/{connection['id']}/test", {}, form_path="/connections")
    assert response.status_code == 302
    only(added(since), "connection.test")


def test_signing_in_records_the_user(client, owner, mark):
    since = mark()
    response = submit(client, "/login", {"email": "owner@example.com", "password": PASSWORD})
    assert response.status_code == 302
    entry = only(added(since), "user.sign_in")
    assert entry.target_type == "user" and entry.actor_user_id is not None


def test_a_wrong_password_records_the_email_but_no_proven_user(client, owner, mark):
    since = mark()
    response = submit(client, "/login", {"email": "Owner@Example.com", "password": "not the password"})
    assert response.status_code == 200
    entry = only(added(since), "user.sign_in_failed")
    assert entry.actor_user_id is None
    assert "not the password" not in raw_row(entry.id)


def test_a_failed_sign_in_for_an_unknown_email_is_logged_without_the_password(client, owner, mark, caplog):
    since = mark()
    submit(client, "/login", {"email": "nobody@example.com", "password": "guessed password"})
    assert added(since) == []
    assert "nobody@example.com" in caplog.text and IP in caplog.text
    assert "guessed password" not in caplog.text


def test_changing_the_password_records_it_without_any_hash(page_client, mark):
    since = mark()
    response = submit(page_client, "/account", {"current": PASSWORD, "new": "a new long password",
                                                "confirm": "a new long password"})
    assert response.status_code == 302
    entry = only(added(since), "user.password_change")
    row = raw_row(entry.id)
    assert "a new long password" not in row and "pbkdf2" not in row and "scrypt" not in row


def test_a_refused_password_change_records_nothing(page_client, mark):
    since = mark()
    submit(page_client, "/account", {"current": "wrong password", "new": "a new long password",
                                     "confirm": "a new long password"})
    assert added(since) == []


@pytest.fixture
def parked_task(ctx):
    """An approval assigned to ada@example.com, its run parked waiting for it; the task's id."""
    tokens = create_people()
    workflow = publish_workflow(approval_flow(escalate_to="role:owner"))
    execution, _ = start_execution(workflow, trigger_kind="manual", payload={"body": {
        "amount": 120, "customer": "Grace", "order": "A-17"}})
    run_execution(execution.id)
    return tokens, task_of(execution.id).id


@pytest.mark.parametrize(("verb", "body", "action"), [
    ("approve", {"comment": "fine"}, "approval.approve"),
    ("reject", {"comment": "never paid"}, "approval.reject"),
    ("delegate", {"to": "alan@example.com"}, "approval.delegate"),
])
def test_an_approval_decision_records_the_decider(client, parked_task, mark, verb, body, action):
    tokens, task_id = parked_task
    since = mark()
    response = client.post(f"/api/v1/approvals/{task_id}/{verb}", json=body, headers=tokens["approver"])
    assert response.status_code == 200, response.get_json()
    entry = only(added(since), action, actor="ada@example.com")
    assert (entry.target_type, entry.target_id) == ("approval", str(task_id))


def test_an_escalation_is_recorded_as_relays_own(parked_task, mark):
    _, task_id = parked_task
    since = mark()
    assert approval_sla.escalate_due(utcnow() + timedelta(days=2)) == 1
    [entry] = added(since)
    assert (entry.action, entry.actor, entry.actor_user_id, entry.ip) == (
        "approval.escalate", approval_sla.ACTOR, None, None)
    assert (entry.target_id, entry.after["assignee"]) == (str(task_id), "role:owner")
    assert json.dumps(entry.before)
