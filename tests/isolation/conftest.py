"""Two workspaces with the same names for everything (workflow "Leads", connection "Team Slack", ...), and in
workspace B one row of every workspace-scoped kind. B's visible data carries ``B_MARKER`` and B's rows have
ids from ``B_FIRST_ID`` up, so a response of A can be searched for any trace of B.

A has the same rows (with its own marker), so every id variable of a route has a real A row too: the walks
prove a 404 for B's id is scoping, not a wrong id, by getting 200 for A's.
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from automation.accounts import TOKEN_PREFIX, hash_token
from automation.models import (
    ApiToken,
    ApprovalTask,
    AuditLog,
    Connection,
    Execution,
    ExecutionEvent,
    Membership,
    ScheduleFire,
    ScheduleState,
    StepRun,
    User,
    Workflow,
    WorkflowVersion,
    Workspace,
    db,
    utcnow,
)
from automation.models.accounts import Invitation
from tests.web.conftest import CSRF

B_MARKER = "zebra7731"
A_MARKER = "alpaca4410"
B_FIRST_ID = 987_650_000
# A's rows sit above B's: SQLite numbers a new row max(id) + 1, so rows the tests add stay out of B's range.
A_FIRST_ID = 990_000_000
# Any of B's ids as a whole number in a response body.
B_ID = re.compile(r"(?<![\d.])98765\d{4}(?![\d.])")
PASSWORD = "correct horse battery"
TEMPLATE_KEY = "lead-to-slack"
HOUR = timedelta(hours=1)

LEADS = {
    "trigger": {"type": "webhook"},
    "steps": [
        {"id": "note", "uses": "core.set", "with": {"text": "New lead: {{ trigger.body.name }}"}},
        {"id": "ok", "uses": "core.approval", "with": {"title": "Call {{ trigger.body.name }}?",
                                                      "assignee": "role:owner"}},
        {"id": "say", "uses": "slack.post_message", "connection": "Team Slack",
         "with": {"channel": "#leads", "text": "{{ trigger.body.name }}"}},
    ],
}
NIGHTLY = {"trigger": {"type": "schedule", "schedule": {"every": "1h"}},
           "steps": [{"id": "tick", "uses": "core.set", "with": {"at": "{{ trigger.scheduled_for }}"}}]}


@dataclass
class Tenant:
    """What a test needs of one workspace: its ids by route variable, its people's tokens and emails."""

    workspace_id: int
    marker: str
    ids: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)
    hook_token: str = ""


@dataclass(frozen=True)
class Tenants:
    a: Tenant
    b: Tenant


def _build(name: str, marker: str, domain: str, next_id: Callable[[], int]) -> Tenant:
    """One workspace with a row of every kind, numbered by ``next_id``."""
    now = utcnow()

    def add(row: Any) -> Any:
        row.id = next_id()
        db.session.add(row)
        db.session.flush()
        return row

    workspace = add(Workspace(name=name))
    tenant = Tenant(workspace.id, marker)
    ws = {"workspace_id": workspace.id}
    people = {}
    for role in ("owner", "editor", "viewer", "approver"):
        email = f"{role}@{domain}"
        people[role] = add(User(email=email, name=f"{role.title()} {marker}",
                                password_hash=generate_password_hash(PASSWORD)))
        add(Membership(user_id=people[role].id, role=role, **ws))
        tenant.emails[role] = email
    for label, role, revoked in (("owner", "owner", False), ("viewer", "viewer", False),
                                 ("revoked", "owner", True)):
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = add(ApiToken(user_id=people[role].id, name=f"{label} {marker}", token_hash=hash_token(token),
                           prefix=token[:10], revoked_at=now if revoked else None, **ws))
        tenant.tokens[label] = token
        if label == "owner":
            tenant.ids["token_id"] = row.id
    tenant.ids["user_id"] = people["editor"].id

    slack = add(Connection(name="Team Slack", connector="slack", fields={}, **ws))
    add(Connection(name=f"Vault {marker}", connector="webhook_secret", fields={}, **ws))
    tenant.ids["connection_id"] = slack.id

    leads = add(Workflow(name="Leads", status="active", hook_token=secrets.token_urlsafe(24),
                         latest_version_number=2, created_by_id=people["owner"].id, **ws))
    versions = [add(WorkflowVersion(workflow_id=leads.id, number=number, definition=LEADS, params={},
                                    author_id=people["owner"].id, published_at=now, **ws)) for number in (1, 2)]
    leads.current_version_id = versions[1].id
    tenant.ids.update(workflow_id=leads.id, number=2)
    tenant.hook_token = leads.hook_token

    nightly = add(Workflow(name="Nightly report", status="active", hook_token=secrets.token_urlsafe(24),
                           latest_version_number=1, **ws))
    nightly_version = add(WorkflowVersion(workflow_id=nightly.id, number=1, definition=NIGHTLY, params={},
                                          published_at=now, **ws))
    nightly.current_version_id = nightly_version.id
    tenant.ids["nightly_id"] = nightly.id
    payroll = add(Workflow(name=f"Payroll {marker}", hook_token=secrets.token_urlsafe(24), latest_version_number=1,
                           **ws))
    add(WorkflowVersion(workflow_id=payroll.id, number=1, definition=NIGHTLY, params={}, **ws))

    runs = {}
    for status, error in (("succeeded", None), ("failed", f"boom {marker}"), ("waiting", None)):
        run = add(Execution(workflow_id=leads.id, version_id=versions[1].id, status=status, trigger_kind="webhook",
                            trigger={"body": {"name": f"Ada {marker}"}}, correlation_id=f"corr-{marker}",
                            error=error, error_step="say" if error else None, started_at=now,
                            finished_at=None if status == "waiting" else now, **ws))
        add(StepRun(execution_id=run.id, step_id="note", action="core.set", status="succeeded",
                    input={"text": f"New lead: Ada {marker}"}, output={"text": f"New lead: Ada {marker}"},
                    finished_at=now, **ws))
        add(ExecutionEvent(execution_id=run.id, from_status="queued", to_status="running", **ws))
        add(ExecutionEvent(execution_id=run.id, from_status="running", to_status=status,
                           reason=f"because {marker}", **ws))
        runs[status] = run
    tenant.ids["execution_id"] = runs["failed"].id
    task = add(ApprovalTask(execution_id=runs["waiting"].id, step_id="ok", assignee_role="owner",
                            title=f"Call Ada {marker}?", details=f"Details {marker}", due_at=now + HOUR,
                            due_soon_at=now + HOUR * 0.8, **ws))
    tenant.ids["task_id"] = task.id

    watermark = now.replace(minute=0, second=0, microsecond=0)
    db.session.add(ScheduleState(workflow_id=nightly.id, version_id=nightly_version.id, every_seconds=3600.0,
                                 timezone="UTC", watermark=watermark, **ws))
    add(ScheduleFire(workflow_id=nightly.id, scheduled_for=watermark - HOUR, covers_from=watermark - HOUR,
                     status="skipped", reason=f"skipped {marker}", fired_at=watermark, **ws))
    add(AuditLog(actor_user_id=people["owner"].id, actor=people["owner"].email, action="workflow.create",
                 target_type="workflow", target_id=str(leads.id), after={"name": f"Leads {marker}"}, **ws))
    invitation = add(Invitation(email=f"new-{marker}@{domain}", role="editor", invited_by_id=people["owner"].id,
                                nonce=secrets.token_hex(16), expires_at=now + HOUR * 24, **ws))
    tenant.ids["invitation_id"] = invitation.id
    db.session.commit()
    return tenant


@pytest.fixture
def tenants(app: Flask) -> Tenants:
    """B (ids from B_FIRST_ID), then A (ids from A_FIRST_ID), built straight into the database."""
    a_ids, b_ids = itertools.count(A_FIRST_ID), itertools.count(B_FIRST_ID)
    with app.app_context():
        b = _build(f"Beta {B_MARKER}", B_MARKER, f"{B_MARKER}.example", lambda: next(b_ids))
        a = _build("Acme", A_MARKER, "a.example", lambda: next(a_ids))
        db.session.remove()
    return Tenants(a, b)


def snapshot(app: Flask, workspace_id: int) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the workspace, table by table (its members' user rows included), for before/after."""
    with app.app_context():
        tables: dict[str, list[tuple[Any, ...]]] = {}
        for table in db.metadata.sorted_tables:
            if "workspace_id" in table.c:
                query = sa.select(table).where(table.c.workspace_id == workspace_id)
            elif table.name == "workspaces":
                query = sa.select(table).where(table.c.id == workspace_id)
            elif table.name == "users":
                members = sa.select(Membership.user_id).where(Membership.workspace_id == workspace_id)
                query = sa.select(table).where(table.c.id.in_(members))
            else:
                continue
            tables[table.name] = sorted(tuple(map(repr, row)) for row in db.session.execute(query))
        db.session.remove()
    return tables


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def traces_of(tenant: Tenant, body: str) -> list[str]:
    """What of ``tenant`` (its marker, its ids) a response body shows."""
    found = [tenant.marker] if tenant.marker in body.lower() else []
    return found + B_ID.findall(body)


@pytest.fixture
def signed_in(app: Flask, tenants: Tenants) -> Callable[[str], tuple[FlaskClient, str]]:
    """``signed_in("owner")``: a client signed in as A's person with that role, and a CSRF token of its session."""

    def sign_in(role: str) -> tuple[FlaskClient, str]:
        client = app.test_client()
        form = client.get("/login").get_data(as_text=True)
        token = _csrf(form)
        response = client.post("/login", data={"email": tenants.a.emails[role], "password": PASSWORD,
                                               "csrf_token": token})
        assert response.status_code == 302, response.get_data(as_text=True)
        return client, _csrf(client.get("/account").get_data(as_text=True))

    return sign_in


def _csrf(page: str) -> str:
    found = CSRF.search(page)
    assert found, "no CSRF token on the page"
    return found.group(1) or found.group(2)
