"""``GET /api/v1/analytics``: the figures of a hand-computed set of runs and approval tasks (exact counts,
failure rate, nearest-rank median and p95, within-SLA share, average approval time, escalations, pending by
urgency), runs per day and the duration trend, and the validation of its query parameters."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from automation.accounts import default_workspace
from automation.models import utcnow
from tests.support import analytics_fixture as fx

pytestmark = pytest.mark.storage
WINDOW = {"from": fx.FIRST.isoformat(), "to": fx.LAST.isoformat()}


@pytest.fixture
def ids(owner: dict[str, str]) -> dict[str, int]:
    workspace = default_workspace(create=False)
    assert workspace is not None
    return fx.build(workspace.id, fx.other_workspace())


def get(client: FlaskClient, headers: dict[str, str], **args: Any) -> Any:
    return client.get("/api/v1/analytics", query_string=args, headers=headers)


def test_the_figures_of_each_workflow_and_the_totals_match_the_hand_computed_ones(client, owner, ids):
    body = get(client, owner, **WINDOW).get_json()
    assert body["from"] == "2025-03-01" and body["to"] == "2025-03-07"
    assert body["percentile_method"] == "nearest-rank"
    by_name = {w["workflow"]["name"]: w for w in body["workflows"]}
    assert set(by_name) == {"Invoices", "Refunds"}  # not the other workspace's
    for name in ("Invoices", "Refunds"):
        figures = {key: value for key, value in by_name[name].items() if key != "workflow"}
        assert figures == fx.EXPECTED[name], name
    assert by_name["Refunds"]["workflow"]["id"] == ids["Refunds"]
    assert {key: value for key, value in body["totals"].items() if key != "workflow"} == fx.EXPECTED["totals"]


def test_runs_per_day_and_the_duration_trend_cover_every_day_of_the_window(client, owner, ids):
    body = get(client, owner, **WINDOW).get_json()
    assert [d["day"] for d in body["runs_per_day"]] == [f"2025-03-0{n}" for n in range(1, 8)]
    assert {d.pop("day"): d for d in body["runs_per_day"] if len(d) > 1} == fx.RUNS_PER_DAY
    trend = {d["day"]: (d["median_seconds"], d["p95_seconds"]) for d in body["duration_per_day"]}
    assert {day: value for day, value in trend.items() if value != (None, None)} == fx.DURATION_PER_DAY
    assert len(trend) == 7


def test_one_workflow_only(client, owner, ids):
    body = get(client, owner, workflow_id=ids["Refunds"], **WINDOW).get_json()
    assert [w["workflow"]["name"] for w in body["workflows"]] == ["Refunds"]
    assert body["workflow_id"] == ids["Refunds"]
    assert body["totals"]["runs"] == fx.EXPECTED["Refunds"]["runs"]
    assert body["totals"]["duration_seconds"] == fx.EXPECTED["Refunds"]["duration_seconds"]
    assert body["totals"]["approvals"] == fx.EXPECTED["Refunds"]["approvals"]


def test_the_default_window_is_the_last_30_days_today_included(client, owner):
    body = get(client, owner).get_json()
    today = utcnow().date()
    assert body["to"] == today.isoformat()
    assert body["from"] == (today - timedelta(days=29)).isoformat()
    assert len(body["runs_per_day"]) == 30
    assert body["workflows"] == [] and body["totals"]["runs"]["failure_rate"] is None
    assert body["totals"]["duration_seconds"] == {"median": None, "p95": None}


@pytest.mark.parametrize(("args", "parameter"), [
    ({"from": "yesterday"}, "from"),
    ({"to": "2025-13-01"}, "to"),
    ({"from": "2025-03-08", "to": "2025-03-01"}, "from"),
    ({"from": "2023-01-01", "to": "2025-01-01"}, "from"),
    ({"workflow_id": "abc"}, "workflow_id"),
])
def test_bad_parameters_are_400_naming_the_parameter(client, owner, args, parameter):
    response = get(client, owner, **args)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["details"] == {"parameter": parameter}
    assert parameter in error["message"] or "window" in error["message"]


def test_another_workspaces_workflow_is_404(client, owner, ids):
    response = get(client, owner, workflow_id=ids["Theirs"], **WINDOW)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_viewers_may_read_analytics_but_not_without_a_token(client, viewer):
    assert get(client, viewer).status_code == 200
    assert client.get("/api/v1/analytics").status_code == 401
