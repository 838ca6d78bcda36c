"""Fixtures for approval tests: people of every role in the default workspace (and an owner of another),
each with a bearer token, published workflows with a ``core.approval`` step, and helpers to start a run
and run it in this process."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from automation import ingest
from automation.accounts import create_api_token, create_user, default_workspace
from automation.engine import run_execution
from automation.models import (
    ApprovalTask,
    Execution,
    ExecutionEvent,
    StepRun,
    Workflow,
    WorkflowStatus,
    WorkflowVersion,
    Workspace,
    db,
    utcnow,
)

PASSWORD = "correct horse battery"
PEOPLE = {
    "owner": ("olga@example.com", "owner"),
    "approver": ("ada@example.com", "approver"),
    "second_approver": ("alan@example.com", "approver"),
    "editor": ("ed@example.com", "editor"),
    "viewer": ("vic@example.com", "viewer"),
}


def approval_flow(assignee: str = "ada@example.com", **options: Any) -> dict[str, Any]:
    """Ask for approval of a refund, then refund when approved or apologise (with the reason) when rejected."""
    return {"trigger": {"type": "manual"}, "steps": [
        {"id": "ask", "uses": "core.approval", "with": {
            "assignee": assignee,
            "title": "Refund {{ trigger.body.amount }} EUR to {{ trigger.body.customer }}",
            "details": "Order {{ trigger.body.order }} ({{ workflow.name }})",
            "due_in": "24h",
            **options,
        }},
        {"id": "refund", "uses": "core.set", "if": "{{ steps.ask.output.decision == 'approved' }}",
         "with": {"note": "refunded, approved by {{ steps.ask.output.decided_by }}"}},
        {"id": "apologise", "uses": "core.set", "if": "{{ steps.ask.output.decision == 'rejected' }}",
         "with": {"note": "sorry: {{ steps.ask.output.comment }}"}},
    ]}


REFUND = {"amount": 120, "customer": "Grace", "order": "A-17"}


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


@pytest.fixture
def tokens(ctx: Flask) -> dict[str, dict[str, str]]:
    """A bearer header per person (keys of PEOPLE), plus ``read_only`` (the approver's read-only token)."""
    return create_people()


@pytest.fixture
def other_workspace(tokens: dict[str, dict[str, str]]) -> dict[str, str]:
    db.session.add(Workspace(name="Other"))
    db.session.commit()
    create_user("otto@example.com", PASSWORD, "owner", workspace="Other")
    return bearer(create_api_token("otto@example.com", workspace="Other"))


def create_people() -> dict[str, dict[str, str]]:
    """Everyone of PEOPLE in the default workspace: a bearer header each, plus ``read_only`` (ada's)."""
    headers = {}
    for key, (email, role) in PEOPLE.items():
        create_user(email, PASSWORD, role)
        headers[key] = bearer(create_api_token(email))
    headers["read_only"] = bearer(create_api_token("ada@example.com", read_only=True))
    return headers


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def publish_workflow(definition: dict[str, Any], name: str = "Refunds") -> Workflow:
    """A published, active workflow of the default workspace with this definition."""
    workspace = default_workspace(create=False)
    assert workspace is not None
    workflow = Workflow(workspace_id=workspace.id, name=name, status=WorkflowStatus.ACTIVE.value,
                        hook_token=secrets.token_urlsafe(24), latest_version_number=1, params={})
    db.session.add(workflow)
    db.session.flush()
    version = WorkflowVersion(workspace_id=workspace.id, workflow_id=workflow.id, number=1,
                              definition=definition, params={}, published_at=utcnow())
    db.session.add(version)
    db.session.flush()
    workflow.current_version_id = version.id
    db.session.commit()
    return workflow


@pytest.fixture
def publish(tokens: dict[str, dict[str, str]]) -> Callable[..., Workflow]:
    return publish_workflow


@pytest.fixture
def parked(publish: Callable[..., Workflow]) -> Callable[..., int]:
    """Start a run of an approval workflow and run it until it parks at the approval; its execution id."""
    def make(definition: dict[str, Any] | None = None, body: dict[str, Any] | None = None) -> int:
        workflow = publish(definition or approval_flow())
        execution, _ = ingest.start_execution(workflow, trigger_kind="manual", payload={"body": body or REFUND})
        assert run(execution.id).status == "waiting"
        return execution.id

    return make


def run(execution_id: int) -> Execution:
    """Run the execution in this process (what the RQ job does) and return the fresh row."""
    run_execution(execution_id)
    db.session.expire_all()
    execution = db.session.get(Execution, execution_id)
    assert execution is not None
    return execution


def task_of(execution_id: int) -> ApprovalTask:
    db.session.expire_all()
    tasks = db.session.scalars(sa.select(ApprovalTask).where(ApprovalTask.execution_id == execution_id)).all()
    assert len(tasks) == 1, tasks
    return tasks[0]


def step_statuses(execution_id: int) -> dict[str, str]:
    """The last attempt's status of each step."""
    rows = db.session.scalars(sa.select(StepRun).where(StepRun.execution_id == execution_id).order_by(StepRun.id))
    return {r.step_id: r.status for r in rows}


def step_output(execution_id: int, step_id: str) -> Any:
    return db.session.scalars(
        sa.select(StepRun.output).where(StepRun.execution_id == execution_id, StepRun.step_id == step_id)
        .order_by(StepRun.id.desc())
    ).first()


def reasons(execution_id: int) -> list[str | None]:
    return list(db.session.scalars(
        sa.select(ExecutionEvent.reason).where(ExecutionEvent.execution_id == execution_id)
        .order_by(ExecutionEvent.id)
    ))
