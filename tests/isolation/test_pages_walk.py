"""Every page, walked by a signed-in person of workspace A with workspace B's ids: each answers 404, B's rows
stay as they were, and no page of A shows anything of B. Public pages (sign-in, first-run setup, signed
links) are not behind a session and are left to their own tests."""

from __future__ import annotations

import pytest

from automation.web.pages import PUBLIC
from tests.isolation.conftest import snapshot, traces_of
from tests.isolation.routes import routes, url

pytestmark = pytest.mark.storage

# Signing out would end the session the walk uses.
SKIP = PUBLIC | {"pages.logout"}


def call(client, route, path, csrf):
    if route.method == "GET":
        return client.get(path)
    return client.open(path, method=route.method, data={"csrf_token": csrf})


def test_every_page_with_an_id_answers_404_for_the_other_workspaces_ids(app, tenants, signed_in):
    client, csrf = signed_in("owner")
    before = snapshot(app, tenants.b.workspace_id)
    answers = {str(route): call(client, route, url(route, tenants.b.ids), csrf).status_code
               for route in routes(app, blueprint="pages", skip=SKIP) if route.has_ids}

    assert answers, "the walk found no page with an id"
    assert {route: status for route, status in answers.items() if status != 404} == {}
    assert snapshot(app, tenants.b.workspace_id) == before


def test_no_page_without_an_id_shows_anything_of_the_other_workspace(app, tenants, signed_in):
    client, csrf = signed_in("owner")
    before = snapshot(app, tenants.b.workspace_id)
    leaks = {}
    for route in routes(app, blueprint="pages", skip=SKIP):
        if not route.has_ids:
            response = call(client, route, url(route, {}), csrf)
            assert response.status_code < 500, f"{route}: {response.status_code}"
            found = traces_of(tenants.b, response.get_data(as_text=True))
            if found:
                leaks[str(route)] = found

    assert leaks == {}
    assert snapshot(app, tenants.b.workspace_id) == before


def test_every_page_with_an_id_shows_the_callers_own_row(app, tenants, signed_in):
    client, _ = signed_in("owner")
    answers = {str(route): client.get(url(route, tenants.a.ids)).status_code
               for route in routes(app, blueprint="pages", skip=SKIP) if route.has_ids and route.method == "GET"}

    assert answers
    assert {route: status for route, status in answers.items() if status != 200} == {}


@pytest.mark.parametrize("path", ["/workflows", "/runs", "/approvals", "/connections"])
def test_the_lists_show_the_callers_own_rows(tenants, signed_in, path):
    client, _ = signed_in("owner")

    assert tenants.a.marker in client.get(path).get_data(as_text=True).lower()


@pytest.mark.parametrize("query", ["/runs?workflow={workflow_id}", "/analytics?workflow={workflow_id}"])
def test_a_page_filtered_by_the_other_workspaces_workflow_shows_nothing_of_it(tenants, signed_in, query):
    client, _ = signed_in("owner")
    response = client.get(query.format(**tenants.b.ids))

    assert response.status_code in {200, 404}
    assert traces_of(tenants.b, response.get_data(as_text=True)) in ([], [str(tenants.b.ids["workflow_id"])])
    assert tenants.b.marker not in response.get_data(as_text=True).lower()


def test_a_viewer_cannot_change_anything_through_the_pages(app, tenants, signed_in):
    client, csrf = signed_in("viewer")
    before = snapshot(app, tenants.a.workspace_id)
    answers = {str(route): (call(client, route, url(route, tenants.a.ids), csrf).status_code, _refusal(route))
               for route in routes(app, blueprint="pages", skip=SKIP) if route.writes and route.has_ids}

    assert answers
    assert {route: (status, wanted) for route, (status, wanted) in answers.items() if status != wanted} == {}
    assert snapshot(app, tenants.a.workspace_id) == before


def _refusal(route):
    # Tokens are personal: everyone manages their own, and someone else's token is not found among them.
    return 404 if "token_id" in route.rule.arguments else 403
