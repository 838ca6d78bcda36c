"""Runs nobody starts by hand belong to their workflow's workspace: a run from B's webhook or B's schedule
is in B, visible to B's token and not found for A's."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from automation.firing import fire_due
from automation.models import Execution, ScheduleState, db
from tests.isolation.conftest import bearer

pytestmark = pytest.mark.storage


def visible(client, tenant, execution_id):
    return client.get(f"/api/v1/executions/{execution_id}", headers=bearer(tenant.tokens["owner"])).status_code


def test_a_run_from_the_other_workspaces_webhook_is_in_that_workspace_only(app, client, tenants):
    response = client.post(f"/hooks/{tenants.b.hook_token}", json={"name": "Grace"})
    assert response.status_code == 202, response.get_data(as_text=True)
    execution_id = response.get_json()["execution_id"]

    with app.app_context():
        assert db.session.get(Execution, execution_id).workspace_id == tenants.b.workspace_id
    assert (visible(client, tenants.a, execution_id), visible(client, tenants.b, execution_id)) == (404, 200)


def test_a_run_from_the_other_workspaces_schedule_is_in_that_workspace_only(app, client, tenants):
    nightly = tenants.b.ids["nightly_id"]
    with app.app_context():
        watermark = db.session.scalar(sa.select(ScheduleState.watermark).where(ScheduleState.workflow_id == nightly))
        fire_due(nightly, now=watermark + timedelta(hours=1, seconds=1))
        execution = db.session.scalar(sa.select(Execution).where(Execution.trigger_kind == "schedule"))
        assert (execution.workflow_id, execution.workspace_id) == (nightly, tenants.b.workspace_id)
        execution_id = execution.id

    assert (visible(client, tenants.a, execution_id), visible(client, tenants.b, execution_id)) == (404, 200)
    listed = client.get("/api/v1/executions", headers=bearer(tenants.a.tokens["owner"])).get_json()["items"]
    assert execution_id not in [item["id"] for item in listed]
