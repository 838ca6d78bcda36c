"""The audit page for owners: filters as a GET form, each entry with who, what, target, address and the keys
that changed, paging, and a CSV download; other roles get 403."""

from __future__ import annotations

import csv
import io
import re

import pytest

from tests.web.conftest import PASSWORD, submit

pytestmark = pytest.mark.storage


@pytest.fixture
def published(client, owner, workflow) -> dict:
    client.post(f"/api/v1/workflows/{workflow['id']}/publish", headers=owner)
    return workflow


def test_the_page_shows_each_entry_with_what_changed(page_client, published):
    response = page_client.get("/audit")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    row = re.search(r'<tr data-entry="\d+">(.*?)</tr>', page, re.S).group(1)  # newest first
    assert "workflow.publish" in row and "owner@example.com" in row and "203.0.113.7" in row
    assert f"workflow #{published['id']}" in row
    status = re.search(r'<li data-key="status">(.*?)</li>', row, re.S).group(1)
    assert "<del>draft</del>" in status and "<ins>active</ins>" in status
    assert 'data-key="name"' not in row  # unchanged keys are left out


def test_the_filters_narrow_the_entries(page_client, published):
    page = page_client.get("/audit", query_string={"action": "user."}).get_data(as_text=True)
    assert "<code>user.sign_in</code>" in page and "<code>workflow.publish</code>" not in page


def test_a_bad_date_shows_next_to_its_field(page_client, published):
    response = page_client.get("/audit", query_string={"from": "last week"})
    assert response.status_code == 400
    assert "must be an ISO date or time" in response.get_data(as_text=True)


def test_the_csv_link_downloads_the_filtered_entries(page_client, published):
    page = page_client.get("/audit", query_string={"action": "workflow."}).get_data(as_text=True)
    link = re.search(r'id="audit-csv" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    response = page_client.get(link)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["action"] for r in rows] == ["workflow.publish", "workflow.create"]


def test_the_navigation_links_the_page_for_owners(page_client):
    assert 'href="/audit"' in page_client.get("/").get_data(as_text=True)


def test_an_editor_is_refused(app, editor):
    browser = app.test_client()
    assert submit(browser, "/login", {"email": "editor@example.com", "password": PASSWORD}).status_code == 302
    assert browser.get("/audit").status_code == 403
    assert browser.get("/audit.csv").status_code == 403
    assert 'href="/audit"' not in browser.get("/").get_data(as_text=True)
