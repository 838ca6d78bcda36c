"""Every route of the API, walked with another workspace's ids: a caller of workspace A gets 404 for each
id of workspace B (never 403: ids must not tell what exists), B's rows stay as they were, and no list,
count, chart or file of A shows anything of B. A new route is walked as soon as it exists."""

from __future__ import annotations

import pytest

from tests.isolation.conftest import B_MARKER, bearer, snapshot, traces_of
from tests.isolation.routes import routes, url

pytestmark = [pytest.mark.storage, pytest.mark.usefixtures("api_context")]

API = "/api/"


@pytest.fixture
def api_context(app, tenants):
    """Like tests/api: one app context (so one session) around the test's requests, as a long-lived worker
    thread would have; requests then share a ``g`` that outlives them, which must not scope the test's
    own queries."""
    with app.app_context():
        yield


def call(client, route, path, token):
    body = {} if route.writes else None
    return client.open(path, method=route.method, json=body, headers=bearer(token))


def test_every_route_with_an_id_answers_404_for_the_other_workspaces_ids(app, client, tenants):
    before = snapshot(app, tenants.b.workspace_id)
    answers = {}
    for route in routes(app, prefix=API):
        if route.has_ids:
            answers[str(route)] = call(client, route, url(route, tenants.b.ids), tenants.a.tokens["owner"]).status_code

    assert answers, "the walk found no API route with an id"
    assert {route: status for route, status in answers.items() if status != 404} == {}
    assert snapshot(app, tenants.b.workspace_id) == before


def test_no_route_without_an_id_shows_anything_of_the_other_workspace(app, client, tenants):
    before = snapshot(app, tenants.b.workspace_id)
    leaks = {}
    for route in routes(app, prefix=API):
        if not route.has_ids:
            response = call(client, route, url(route, {}), tenants.a.tokens["owner"])
            assert response.status_code < 500, f"{route}: {response.status_code}"
            found = traces_of(tenants.b, response.get_data(as_text=True))
            if found:
                leaks[str(route)] = found

    assert leaks == {}
    assert snapshot(app, tenants.b.workspace_id) == before


def test_the_lists_do_show_the_callers_own_rows(client, tenants):
    shown = {path: client.get(path, headers=bearer(tenants.a.tokens["owner"])).get_data(as_text=True)
             for path in ("/api/v1/workflows", "/api/v1/executions", "/api/v1/approvals", "/api/v1/connections")}

    assert {path: tenants.a.marker in body.lower() or f'"id":{tenants.a.ids["workflow_id"]}' in body.replace(" ", "")
            for path, body in shown.items()} == dict.fromkeys(shown, True)


@pytest.mark.parametrize("query", ["/api/v1/executions?workflow_id={workflow_id}",
                                   "/api/v1/analytics?workflow_id={workflow_id}"])
def test_a_filter_by_the_other_workspaces_id_is_not_found(client, tenants, query):
    response = client.get(query.format(**tenants.b.ids), headers=bearer(tenants.a.tokens["owner"]))

    assert response.status_code == 404
    assert B_MARKER not in response.get_data(as_text=True).lower()


def test_every_route_with_an_id_answers_200_for_the_callers_own_ids(app, client, tenants):
    answers = {str(route): call(client, route, url(route, tenants.a.ids), tenants.a.tokens["owner"]).status_code
               for route in routes(app, prefix=API) if route.has_ids and not route.writes}

    assert answers
    assert {route: status for route, status in answers.items() if status != 200} == {}


def test_a_viewer_cannot_change_anything(app, client, tenants):
    before = snapshot(app, tenants.a.workspace_id)
    answers = {str(route): call(client, route, url(route, tenants.a.ids), tenants.a.tokens["viewer"]).status_code
               for route in routes(app, prefix=API) if route.writes}

    assert answers
    assert {route: status for route, status in answers.items() if status != 403} == {}
    assert _without_token_use(snapshot(app, tenants.a.workspace_id)) == _without_token_use(before)


def test_a_revoked_token_is_refused_on_every_route(app, client, tenants):
    answers = {str(route): call(client, route, url(route, tenants.a.ids), tenants.a.tokens["revoked"]).status_code
               for route in routes(app, prefix=API)}

    assert {route: status for route, status in answers.items() if status != 401} == {}


def test_a_token_stops_working_as_soon_as_it_is_revoked(app, client, tenants):
    from automation.models import ApiToken, db, utcnow  # noqa: PLC0415 - models need the app context below

    headers = bearer(tenants.a.tokens["owner"])
    assert client.get("/api/v1/workflows", headers=headers).status_code == 200
    with app.app_context():
        db.session.get(ApiToken, tenants.a.ids["token_id"]).revoked_at = utcnow()
        db.session.commit()

    assert client.get("/api/v1/workflows", headers=headers).status_code == 401


def _without_token_use(tables):
    # Reading with a token stamps its last use; that is the only change a viewer's calls may make.
    return {name: rows for name, rows in tables.items() if name != "api_tokens"}
