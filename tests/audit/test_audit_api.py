"""GET /api/v1/audit for owners: filters, paging newest first, 400s naming the parameter, and the CSV export
(parsed with the csv module) with spreadsheet formulas neutralised."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest

from automation import audit
from automation.accounts import default_workspace
from automation.models import db, utcnow

pytestmark = pytest.mark.storage


@pytest.fixture
def trail(client, owner, workflow, connection) -> dict:
    """A workflow created, published and paused and a connection created, by the owner through the API."""
    client.post(f"/api/v1/workflows/{workflow['id']}/publish", headers=owner)
    client.post(f"/api/v1/workflows/{workflow['id']}/pause", headers=owner)
    return workflow


def listed(client, owner, **query):
    response = client.get("/api/v1/audit", query_string=query, headers=owner)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_entries_are_listed_newest_first_with_who_what_and_where(client, owner, trail):
    data = listed(client, owner)
    assert [e["action"] for e in data["items"]] == [
        "workflow.pause", "workflow.publish", "connection.create", "workflow.create"]
    first = data["items"][0]
    assert (first["actor"], first["ip"], first["target_type"], first["target_id"]) == (
        "owner@example.com", "203.0.113.7", "workflow", str(trail["id"]))
    assert (first["before"]["status"], first["after"]["status"]) == ("active", "paused")
    assert data["total"] == 4


def test_an_action_filter_is_exact(client, owner, trail):
    assert [e["action"] for e in listed(client, owner, action="workflow.publish")["items"]] == ["workflow.publish"]


def test_an_action_ending_in_a_dot_is_a_prefix(client, owner, trail):
    actions = [e["action"] for e in listed(client, owner, action="workflow.")["items"]]
    assert actions == ["workflow.pause", "workflow.publish", "workflow.create"]


def test_a_prefix_does_not_treat_underscore_as_a_wildcard(client, owner, trail):
    assert listed(client, owner, action="workflow_")["items"] == []


def test_actor_target_type_and_target_id_filter(client, owner, trail):
    by_target = listed(client, owner, target_type="workflow", target_id=str(trail["id"]))["items"]
    assert len(by_target) == 3
    assert listed(client, owner, actor="OWNER@example.com")["total"] == 4
    assert listed(client, owner, actor="someone@example.com")["total"] == 0


def test_from_and_to_limit_the_time(client, owner, trail):
    workspace = default_workspace(create=False)
    old = audit.record(workspace.id, "workflow.update", "workflow", trail["id"], actor=None)
    old.at = utcnow() - timedelta(days=10)
    db.session.commit()
    day = (utcnow() - timedelta(days=10)).date().isoformat()
    assert [e["action"] for e in listed(client, owner, to=day)["items"]] == ["workflow.update"]
    since = (utcnow() - timedelta(days=1)).isoformat()
    assert listed(client, owner, **{"from": since})["total"] == 4


def test_pages_hold_per_page_entries_and_point_at_the_next(client, owner, trail):
    first = listed(client, owner, per_page=3)
    second = listed(client, owner, per_page=3, page=2)
    assert (len(first["items"]), first["next"]) == (3, 2)
    assert ([e["action"] for e in second["items"]], second["next"]) == (["workflow.create"], None)


@pytest.mark.parametrize(("query", "parameter"), [
    ({"from": "yesterday"}, "from"),
    ({"to": "2026-13-01"}, "to"),
    ({"from": "2026-02-01", "to": "2026-01-01"}, "from"),
    ({"action": "x" * 400}, "action"),
    ({"page": "0"}, "page"),
    ({"format": "xml"}, "format"),
])
def test_a_bad_parameter_is_a_400_naming_it(client, owner, query, parameter):
    response = client.get("/api/v1/audit", query_string=query, headers=owner)
    assert response.status_code == 400
    assert response.get_json()["error"]["details"]["parameter"] == parameter


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_only_owners_may_read_the_trail(client, request, role):
    headers = request.getfixturevalue(role)
    for path in ("/api/v1/audit", "/api/v1/audit.csv"):
        response = client.get(path, headers=headers)
        assert response.status_code == 403
        assert "only an owner" in response.get_json()["error"]["message"]


def test_another_workspaces_entries_are_not_listed(client, owner, trail):
    from automation.accounts import create_api_token, create_user
    from automation.models import Workspace

    db.session.add(Workspace(name="Other"))
    db.session.commit()
    create_user("other@example.com", "correct horse battery", "owner", workspace="Other")
    other = {"Authorization": f"Bearer {create_api_token('other@example.com', workspace='Other')}"}
    assert listed(client, other)["total"] == 0


def csv_rows(response):
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_the_csv_export_has_the_filtered_entries_newest_first(client, owner, trail):
    rows = csv_rows(client.get("/api/v1/audit.csv", query_string={"action": "workflow."}, headers=owner))
    assert [r["action"] for r in rows] == ["workflow.pause", "workflow.publish", "workflow.create"]
    assert rows[0]["actor"] == "owner@example.com" and rows[0]["ip"] == "203.0.113.7"
    assert json.loads(rows[0]["after"])["status"] == "paused"


def test_format_csv_is_the_same_export(client, owner, trail):
    rows = csv_rows(client.get("/api/v1/audit", query_string={"format": "csv"}, headers=owner))
    assert len(rows) == 4


def test_cells_that_a_spreadsheet_would_run_as_formulas_are_quoted(client, owner):
    workspace = default_workspace(create=False)
    audit.record(workspace.id, "workflow.update", "workflow", "=HYPERLINK(\"http://evil\")", actor=None,
                 actor_label="+cmd|' /C calc'!A0", ip="-1+1")
    db.session.commit()
    [row] = csv_rows(client.get("/api/v1/audit.csv", headers=owner))
    assert row["target_id"] == "'=HYPERLINK(\"http://evil\")"
    assert row["actor"] == "'+cmd|' /C calc'!A0"
    assert row["ip"] == "'-1+1"
