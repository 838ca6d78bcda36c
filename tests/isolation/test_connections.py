"""A workflow of workspace A cannot use a connection of workspace B, by name or by id: creating, editing,
importing or instantiating a template with one is refused exactly as for a connection that does not exist
(nothing is written), publishing refuses it, and a run only ever loads connections of its own workspace."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from automation import connections
from automation.models import Workflow, WorkflowVersion, db
from integrations.base import ConnectorError
from tests.isolation.conftest import B_MARKER, bearer

pytestmark = pytest.mark.storage

MISSING_ID = 999_999_999


def slack_step(reference):
    """A definition whose step names ``reference``: a connection's name, or its id as text."""
    return {"trigger": {"type": "manual"}, "steps": [
        {"id": "say", "uses": "slack.post_message", "connection": reference, "with": {"channel": "#x", "text": "hi"}}]}


def counts(app, workspace_id):
    with app.app_context():
        return tuple(db.session.scalar(sa.select(sa.func.count()).select_from(model)
                                       .where(model.workspace_id == workspace_id))
                     for model in (Workflow, WorkflowVersion))


def problems(response):
    return [(d["path"], d["message"]) for d in response.get_json()["error"]["details"]]


def refused_as_missing(reference):
    return [("definition.steps.say.connection", f"connection '{reference}' does not exist in this workspace")]


def test_creating_a_workflow_with_the_other_workspaces_connection_id_is_refused_as_missing(app, client, tenants):
    before = counts(app, tenants.a.workspace_id)
    foreign = str(tenants.b.ids["connection_id"])
    response = client.post("/api/v1/workflows", json={"name": "Leads", "definition": slack_step(foreign)},
                           headers=bearer(tenants.a.tokens["owner"]))

    assert response.status_code == 422
    assert problems(response) == refused_as_missing(foreign)
    assert counts(app, tenants.a.workspace_id) == before


def test_the_other_workspaces_id_is_refused_just_like_an_id_that_does_not_exist(client, tenants):
    headers = bearer(tenants.a.tokens["owner"])
    answers = [client.post("/api/v1/workflows", json={"name": "Leads", "definition": slack_step(reference)},
                           headers=headers) for reference in (str(tenants.b.ids["connection_id"]), str(MISSING_ID))]

    assert [a.status_code for a in answers] == [422, 422]
    assert [(path, message.replace(str(tenants.b.ids["connection_id"]), str(MISSING_ID)))
            for path, message in problems(answers[0])] == problems(answers[1])


def test_an_id_given_through_params_is_refused_too(app, client, tenants):
    before = counts(app, tenants.a.workspace_id)
    foreign = str(tenants.b.ids["connection_id"])
    response = client.post("/api/v1/workflows", json={
        "name": "Leads", "definition": slack_step("{{ params.slack }}"), "params": {"slack": foreign}},
        headers=bearer(tenants.a.tokens["owner"]))

    assert response.status_code == 422
    assert problems(response) == refused_as_missing(foreign)
    assert counts(app, tenants.a.workspace_id) == before


def test_the_callers_own_connection_id_is_accepted(client, tenants):
    response = client.post("/api/v1/workflows", json={
        "name": "Leads", "definition": slack_step(str(tenants.a.ids["connection_id"]))},
        headers=bearer(tenants.a.tokens["owner"]))

    assert response.status_code == 201


def test_editing_a_workflow_to_the_other_workspaces_connection_id_is_refused(app, client, tenants):
    before = counts(app, tenants.a.workspace_id)
    foreign = str(tenants.b.ids["connection_id"])
    response = client.patch(f"/api/v1/workflows/{tenants.a.ids['workflow_id']}",
                            json={"definition": slack_step(foreign)}, headers=bearer(tenants.a.tokens["owner"]))

    assert response.status_code == 422
    assert problems(response) == refused_as_missing(foreign)
    assert counts(app, tenants.a.workspace_id) == before


def test_importing_a_file_with_the_other_workspaces_connection_id_is_refused(app, client, tenants):
    before = counts(app, tenants.a.workspace_id)
    foreign = str(tenants.b.ids["connection_id"])
    response = client.post("/api/v1/workflows/import", json={
        "relay": 1, "name": "Leads", "definition": slack_step(foreign)}, headers=bearer(tenants.a.tokens["owner"]))

    assert response.status_code == 422
    assert problems(response) == refused_as_missing(foreign)
    assert counts(app, tenants.a.workspace_id) == before


@pytest.mark.parametrize("which", ["id", "name"])
def test_a_template_given_the_other_workspaces_connection_is_refused(app, client, tenants, which):
    before = counts(app, tenants.a.workspace_id)
    foreign = str(tenants.b.ids["connection_id"]) if which == "id" else f"Vault {B_MARKER}"
    response = client.post("/api/v1/workflows", json={
        "template": "lead-to-slack", "params": {"slack": foreign, "email": "Company mail", "company_name": "Acme"}},
        headers=bearer(tenants.a.tokens["owner"]))

    assert response.status_code == 422
    assert ("params.slack", f"no connection named '{foreign}' in this workspace; create a slack connection first") \
        in problems(response)
    assert counts(app, tenants.a.workspace_id) == before


def test_publishing_a_draft_naming_a_connection_only_the_other_workspace_has_is_refused(client, tenants):
    headers = bearer(tenants.a.tokens["owner"])
    name = f"Vault {B_MARKER}"
    draft = client.post("/api/v1/workflows", json={"name": "Leads", "definition": slack_step(name)}, headers=headers)
    response = client.post(f"/api/v1/workflows/{draft.get_json()['id']}/publish", headers=headers)

    assert response.status_code == 422
    assert problems(response) == refused_as_missing(name)


@pytest.mark.parametrize("reference", ["connection_id", "name"])
def test_a_run_loads_connections_of_its_own_workspace_only(app, tenants, reference):
    foreign = str(tenants.b.ids["connection_id"]) if reference == "connection_id" else f"Vault {B_MARKER}"
    with app.app_context(), pytest.raises(ConnectorError) as refused:
        connections.load_for_step(tenants.a.workspace_id, foreign, "slack", "slack.post_message")

    assert refused.value.message == f"connection '{foreign}' does not exist in this workspace"


def test_a_run_of_the_same_name_loads_its_own_workspaces_connection(app, tenants):
    with app.app_context():
        loaded = connections.load_for_step(tenants.a.workspace_id, "Team Slack", "slack", "slack.post_message")

    assert loaded.id == tenants.a.ids["connection_id"]
