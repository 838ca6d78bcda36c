"""The session event of automation/scoping.py: while a request has an identity, every ORM query of a
workspace-scoped model sees only that workspace, however it is written; without one (workers, the
scheduler, the CLI, a test after its request) nothing is filtered; the opt-out sees everything."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import g
from sqlalchemy.orm import aliased

from automation.accounts import TokenIdentity
from automation.models import ApprovalTask, Execution, Role, Workflow, db
from automation.scoping import ALL_WORKSPACES

pytestmark = pytest.mark.storage


@pytest.fixture
def as_a(app, tenants):
    """A request of A's owner, as the API's token check leaves it."""
    with app.test_request_context("/api/v1/workflows"):
        g.identity = TokenIdentity(None, 0, tenants.a.workspace_id, Role.OWNER, False)
        yield tenants


def names(rows):
    return sorted({row.workspace_id for row in rows})


def test_a_plain_select_sees_only_the_callers_workspace(as_a):
    assert names(db.session.scalars(sa.select(Workflow))) == [as_a.a.workspace_id]


def test_a_count_sees_only_the_callers_workspace(as_a):
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Workflow)) == 3


def test_a_join_and_an_alias_see_only_the_callers_workspace(as_a):
    other = aliased(Workflow)
    rows = db.session.execute(sa.select(Execution, other).join(other, other.id == Execution.workflow_id)).all()

    assert rows
    assert {(e.workspace_id, w.workspace_id) for e, w in rows} == {(as_a.a.workspace_id,) * 2}


def test_a_subquery_sees_only_the_callers_workspace(as_a):
    query = sa.select(sa.func.count()).select_from(sa.select(Execution).subquery())

    assert db.session.scalar(query) == 3


def test_get_by_the_other_workspaces_id_finds_nothing(as_a):
    assert db.session.get(ApprovalTask, as_a.b.ids["task_id"]) is None


def test_the_opt_out_reads_any_workspace(as_a):
    task = db.session.get(ApprovalTask, as_a.b.ids["task_id"], execution_options=ALL_WORKSPACES)

    assert task is not None
    assert task.workspace_id == as_a.b.workspace_id


def test_outside_a_request_nothing_is_filtered(app, tenants):
    with app.app_context():
        assert names(db.session.scalars(sa.select(Workflow))) == sorted(
            [tenants.a.workspace_id, tenants.b.workspace_id])


def test_an_identity_left_in_g_after_its_request_filters_nothing(app, tenants):
    with app.app_context():
        with app.test_request_context("/"):
            g.identity = TokenIdentity(None, 0, tenants.a.workspace_id, Role.OWNER, False)
        g.identity = TokenIdentity(None, 0, tenants.a.workspace_id, Role.OWNER, False)

        assert len(names(db.session.scalars(sa.select(Workflow)))) == 2
