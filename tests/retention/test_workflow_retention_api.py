"""A workflow's own retention through the API: ``retention_days`` in PATCH /api/v1/workflows/{id} (a whole
number of days, or null for RELAY_RETENTION_DAYS), shown in the workflow's JSON, with an audit entry."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from automation.accounts import create_api_token, create_user
from automation.models import AuditLog, db
from automation.retention import MAX_DAYS


@pytest.fixture
def owner(ctx) -> dict[str, str]:
    create_user("owner@example.com", "correct horse battery", "owner")
    return {"Authorization": f"Bearer {create_api_token('owner@example.com')}"}


@pytest.fixture
def workflow_url(client, owner) -> str:
    created = client.post("/api/v1/workflows", headers=owner, json={"name": "Greeter", "definition": {
        "trigger": {"type": "manual"}, "steps": [{"id": "greet", "uses": "core.set", "with": {"x": 1}}]}})
    assert created.status_code == 201, created.get_json()
    return f"/api/v1/workflows/{created.get_json()['id']}"


def test_a_new_workflow_keeps_runs_for_the_default(client, owner, workflow_url):
    assert client.get(workflow_url, headers=owner).get_json()["retention_days"] is None


def test_patch_sets_the_days_and_the_workflow_shows_them(client, owner, workflow_url):
    changed = client.patch(workflow_url, json={"retention_days": 90}, headers=owner)

    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["retention_days"] == 90
    assert client.get(workflow_url, headers=owner).get_json()["retention_days"] == 90


def test_null_goes_back_to_the_default(client, owner, workflow_url):
    client.patch(workflow_url, json={"retention_days": 90}, headers=owner)

    changed = client.patch(workflow_url, json={"retention_days": None}, headers=owner)

    assert changed.get_json()["retention_days"] is None


def test_it_can_change_with_the_name_in_one_request(client, owner, workflow_url):
    changed = client.patch(workflow_url, json={"retention_days": 7, "name": "Short-lived"}, headers=owner)

    assert (changed.get_json()["retention_days"], changed.get_json()["name"]) == (7, "Short-lived")


@pytest.mark.parametrize("value", ["90", 9.5, True, [90]])
def test_a_value_that_is_not_a_whole_number_is_a_400_naming_the_field(client, owner, workflow_url, value):
    refused = client.patch(workflow_url, json={"retention_days": value}, headers=owner)

    assert refused.status_code == 400
    assert "retention_days" in refused.get_json()["error"]["message"]


@pytest.mark.parametrize("value", [0, -1, MAX_DAYS + 1])
def test_a_number_out_of_range_is_a_422_naming_the_field(client, owner, workflow_url, value):
    refused = client.patch(workflow_url, json={"retention_days": value}, headers=owner)

    assert refused.status_code == 422
    assert refused.get_json()["error"]["details"][0]["path"] == "retention_days"
    assert client.get(workflow_url, headers=owner).get_json()["retention_days"] is None


def test_an_invalid_definition_in_the_same_request_changes_nothing(client, owner, workflow_url):
    refused = client.patch(workflow_url, json={"retention_days": 7, "definition": {"steps": "no"}}, headers=owner)

    assert refused.status_code == 422
    assert client.get(workflow_url, headers=owner).get_json()["retention_days"] is None


def test_a_change_is_audited_with_before_and_after(client, owner, workflow_url):
    client.patch(workflow_url, json={"retention_days": 14}, headers=owner)
    client.patch(workflow_url, json={"retention_days": 14}, headers=owner)

    entries = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "workflow.update")).all()
    assert [(e.actor, e.before, e.after) for e in entries] == [
        ("owner@example.com", {"retention_days": None}, {"retention_days": 14})]
