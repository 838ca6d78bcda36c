"""The analytics page: the hand-computed figures of tests/support/analytics_fixture.py per workflow and in
total, both charts with their tables, the nav link, one workflow only, and errors next to the date fields."""

from __future__ import annotations

import re

import pytest

from automation.accounts import default_workspace
from tests.support import analytics_fixture as fx
from tests.web.conftest import field_error, rows

pytestmark = pytest.mark.storage
WINDOW = "/analytics?from=2025-03-01&to=2025-03-07"


@pytest.fixture
def ids(app, owner_client):
    return rows(app, lambda: fx.build(default_workspace().id, fx.other_workspace()))


def figure(page: str, workflow: str, name: str) -> str:
    row = re.search(rf'<tr data-workflow="{workflow}">(.*?)</tr>', page, re.S)
    assert row, f"no row for {workflow}"
    found = re.search(rf'data-figure="{name}">(.*?)</td>', row.group(1), re.S)
    assert found, f"no {name} for {workflow}"
    return re.sub(r"<[^>]+>", "", found.group(1)).split()[0] if name != "pending" else found.group(1).strip()


def by_id(page: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}">([^<]*)<', page)
    assert found, element_id
    return found.group(1).strip()


def test_the_page_shows_each_workflows_figures(owner_client, ids):
    page = owner_client.get(WINDOW).get_data(as_text=True)
    assert [figure(page, "Invoices", n) for n in ("started", "succeeded", "failed", "failure-rate", "median", "p95")] \
        == ["13", "7", "3", "30%", "7.5", "15"]
    assert [figure(page, "Refunds", n) for n in ("failure-rate", "median", "p95", "within-sla", "approval-time",
                                                  "escalations", "pending")] \
        == ["33.3%", "1", "2", "50%", "10", "2", "1 / 1 / 1"]
    assert "Theirs" not in page


def test_the_totals_are_shown_as_stats(owner_client, ids):
    page = owner_client.get(WINDOW).get_data(as_text=True)
    assert by_id(page, "total-started") == "16"
    assert by_id(page, "total-failure-rate") == "30.8%"
    assert by_id(page, "total-median") == "10.5 s"
    assert by_id(page, "total-p95") == "2 min 00 s"  # 120.5 s, rounded to the second
    assert by_id(page, "total-within-sla") == "66.7%"
    assert by_id(page, "total-approval-time") == "8 h 07 min"  # 29250 s
    assert by_id(page, "total-pending") == "4"


def test_both_charts_are_drawn_with_tables_of_the_same_numbers(owner_client, ids):
    page = owner_client.get(WINDOW).get_data(as_text=True)
    assert page.count('role="img"') == 2
    assert "16 runs from 2025-03-01 to 2025-03-07: 9 succeeded, 4 failed, 1 cancelled, 2 in progress." in page
    day = re.search(r'<tr data-day="2025-03-02">(.*?)</tr>', page.split('id="runs-table"')[1], re.S).group(1)
    assert re.findall(r'data-outcome="(\w[\w ]*)">(\d+)<', day) == [
        ("succeeded", "3"), ("failed", "2"), ("cancelled", "0"), ("in progress", "0")]
    trend = page.split('id="duration-table"')[1]
    fourth = re.search(r'<tr data-day="2025-03-04">(.*?)</tr>', trend, re.S).group(1)
    assert re.findall(r'data-series="(\w+)">([^<]*)<', fourth) == [("median", "1 min 00 s"), ("p95", "2 min 00 s")]
    assert re.search(r'<polyline points="[\d. ,]+" class="trend median"', page)
    assert 'class="seg failed"' in page


def test_analytics_is_in_the_nav_and_readable_by_a_viewer(app, owner_client, sign_in, ids):
    assert 'href="/analytics"' in owner_client.get("/").get_data(as_text=True)
    viewer = sign_in("viewer")
    assert viewer.get(WINDOW).status_code == 200


def test_one_workflow_only(owner_client, ids):
    page = owner_client.get(f"{WINDOW}&workflow={ids['Refunds']}").get_data(as_text=True)
    assert 'data-workflow="Refunds"' in page and 'data-workflow="Invoices"' not in page
    assert by_id(page, "total-started") == "3"


def test_another_workspaces_workflow_is_not_found(owner_client, ids):
    assert owner_client.get(f"{WINDOW}&workflow={ids['Theirs']}").status_code == 404


def test_bad_dates_are_shown_next_to_their_field(owner_client, ids):
    response = owner_client.get("/analytics?from=2025-03-09&to=2025-03-01")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "is after" in field_error(page, "from")
    assert field_error(page, "to") == ""
    response = owner_client.get("/analytics?to=soon")
    assert "ISO date" in field_error(response.get_data(as_text=True), "to")


def test_an_empty_workspace_shows_the_last_30_days(owner_client):
    page = owner_client.get("/analytics").get_data(as_text=True)
    assert "No workflows yet." in page
    assert page.count('<tr data-day="') == 60  # both tables
