"""Workflow lifecycle: create, edit (every definition or params change is a new immutable version),
publish a version (validate, make it current), pause, resume, delete. No request handling here.

Each change records its one audit entry (automation/audit.py) in its own commit, whatever the caller (API,
pages, templates, file import), with ``snapshot`` before and after. Deleting a workflow deletes its runs
through append_only.purge_executions, as their status history is append-only.
"""

from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa

from automation import audit
from automation.definitions import DefinitionError, Problem, parse
from automation.models import Execution, Workflow, WorkflowStatus, WorkflowVersion, db, utcnow
from automation.models.append_only import purge_executions
from automation.workflow_checks import foreign_id_problems, version_problems

MAX_NAME = 200


class LifecycleError(Exception):
    """A lifecycle change that the workflow's state does not allow (an HTTP 409)."""


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise DefinitionError([Problem("name", "required: a non-empty name")])
    if len(name.strip()) > MAX_NAME:
        raise DefinitionError([Problem("name", f"at most {MAX_NAME} characters")])
    # A name is one line of text; PostgreSQL cannot store NUL at all.
    if any(ch < " " or ch == "\x7f" for ch in name.strip()):
        raise DefinitionError([Problem("name", "no line breaks or control characters")])
    return name.strip()


def check_definition(definition: Any) -> None:
    """Parse the definition; its problems' paths start with ``definition`` so they sit beside ``name``'s.

    Raises:
        DefinitionError: every problem found.
    """
    try:
        parse(definition)
    except DefinitionError as exc:
        raise DefinitionError(
            [Problem(f"definition.{p.path}" if p.path else "definition", p.message) for p in exc.problems]
        ) from None


def create_workflow(
    workspace_id: int, name: Any, definition: Any, *, params: dict[str, Any] | None = None,
    author_id: int | None = None, template_key: str | None = None,
) -> Workflow:
    """Create a draft workflow with version 1. Commits.

    Raises:
        DefinitionError: the name or the definition has problems (all of them are listed).
    """
    problems: list[Problem] = []
    try:
        name = check_name(name)
    except DefinitionError as exc:
        problems += exc.problems
    try:
        check_definition(definition)
    except DefinitionError as exc:
        problems += exc.problems
    problems += foreign_id_problems(workspace_id, definition, params or {})
    if problems:
        raise DefinitionError(problems)
    workflow = Workflow(
        workspace_id=workspace_id, name=name, status=WorkflowStatus.DRAFT.value, params=params or {},
        hook_token=new_hook_token(), latest_version_number=0, created_by_id=author_id,
        template_key=template_key,
    )
    db.session.add(workflow)
    db.session.flush()
    _add_version(workflow, definition, params or {}, author_id)
    _record(workflow, "workflow.create", author_id, None)
    db.session.commit()
    return workflow


def update_workflow(
    workflow: Workflow, *, name: Any = None, definition: Any = None, params: dict[str, Any] | None = None,
    author_id: int | None = None, detach_template: bool = False,
) -> Workflow:
    """Rename and/or save a new version (``detach_template``: the definition is the workflow's own from now
    on). Publishing it is a separate step. Commits; a change that changes nothing records nothing.

    Raises:
        DefinitionError: the new name or definition has problems.
    """
    before = snapshot(workflow)
    if detach_template:
        workflow.template_key = None
    if name is not None:
        workflow.name = check_name(name)
    if definition is not None or params is not None:
        latest = latest_version(workflow)
        new_definition = definition if definition is not None else latest.definition
        new_params = params if params is not None else latest.params
        try:
            check_definition(new_definition)
            foreign = foreign_id_problems(workflow.workspace_id, new_definition, new_params or {})
            if foreign:
                raise DefinitionError(foreign)
        except DefinitionError:
            db.session.rollback()
            raise
        if new_definition != latest.definition or new_params != latest.params:
            workflow.params = new_params
            _add_version(workflow, new_definition, new_params, author_id)
    workflow.updated_at = utcnow()
    if snapshot(workflow) != before:
        _record(workflow, "workflow.update", author_id, before)
    db.session.commit()
    return workflow


def publish(workflow: Workflow, version_number: int | None = None, *, actor_id: int | None = None) -> Workflow:
    """Make a version (default: the latest) the one new runs use, and activate the workflow. Commits.

    Publishing a version older than the latest is recorded as a roll-back.

    Raises:
        LookupError: no such version.
        DefinitionError: the version does not validate, or names a connection that is missing from the
            workspace or of the wrong type.
    """
    if version_number is None:
        version: WorkflowVersion | None = latest_version(workflow)
    elif 0 < version_number <= workflow.latest_version_number:
        version = version_by_number(workflow, version_number)
    else:
        version = None
    if version is None:
        raise LookupError(f"workflow {workflow.id} has no version {version_number}")
    problems = version_problems(workflow.workspace_id, version.definition, version.params or {})
    if problems:
        raise DefinitionError(
            [Problem(f"definition.{p.path}" if p.path else "definition", p.message) for p in problems])
    before = snapshot(workflow)
    version.published_at = version.published_at or utcnow()
    workflow.current_version_id = version.id
    workflow.status = WorkflowStatus.ACTIVE.value
    workflow.updated_at = utcnow()
    older = version.number < workflow.latest_version_number
    _record(workflow, "workflow.rollback" if older else "workflow.publish", actor_id, before)
    db.session.commit()
    return workflow


def pause(workflow: Workflow, *, actor_id: int | None = None) -> Workflow:
    return _move(workflow, WorkflowStatus.ACTIVE, WorkflowStatus.PAUSED, "pause", actor_id)


def resume(workflow: Workflow, *, actor_id: int | None = None) -> Workflow:
    return _move(workflow, WorkflowStatus.PAUSED, WorkflowStatus.ACTIVE, "resume", actor_id)


def _move(workflow: Workflow, expected: WorkflowStatus, new: WorkflowStatus, verb: str,
          actor_id: int | None) -> Workflow:
    if workflow.status != expected:
        raise LifecycleError(f"only a workflow that is {expected.value} can be {verb}d; this one is "
                             f"{workflow.status}")
    before = snapshot(workflow)
    workflow.status = new.value
    _record(workflow, f"workflow.{verb}", actor_id, before)
    db.session.commit()
    return workflow


def rotate_hook_token(workflow: Workflow) -> Workflow:
    """Give the workflow a new webhook address; the old one answers 404 from now on. Commits."""
    workflow.hook_token = new_hook_token()
    workflow.updated_at = utcnow()
    db.session.commit()
    return workflow


def new_hook_token() -> str:
    # 24 random bytes (192 bits), URL-safe: the address itself is the credential of an unverified webhook.
    return secrets.token_urlsafe(24)


def delete_workflow(workflow: Workflow, *, actor_id: int | None = None) -> None:
    """Delete the workflow with its versions and executions. Commits.

    The row is locked first, so no run can start between deleting the runs and deleting the workflow.
    """
    before = snapshot(workflow)
    db.session.execute(sa.select(Workflow.id).where(Workflow.id == workflow.id).with_for_update())
    purge_executions(db.session.scalars(sa.select(Execution.id).where(Execution.workflow_id == workflow.id)))
    audit.record(workflow.workspace_id, "workflow.delete", "workflow", workflow.id, actor=audit.user(actor_id),
                 before=before)
    workflow.current_version_id = None
    db.session.flush()
    db.session.delete(workflow)
    db.session.commit()


def snapshot(workflow: Workflow) -> dict[str, Any]:
    """What the audit trail keeps of a workflow: the API's view of it without timestamps or its webhook
    address (the address is a credential)."""
    latest = version_by_number(workflow, workflow.latest_version_number)
    published = db.session.get(WorkflowVersion, workflow.current_version_id) if workflow.current_version_id \
        else None
    return {
        "name": workflow.name,
        "status": workflow.status,
        "version": workflow.latest_version_number,
        "published_version": published.number if published else None,
        "template": workflow.template_key,
        "params": latest.params if latest else workflow.params,
        "definition": latest.definition if latest else None,
    }


def _record(workflow: Workflow, action: str, actor_id: int | None, before: dict[str, Any] | None) -> None:
    audit.record(workflow.workspace_id, action, "workflow", workflow.id, actor=audit.user(actor_id),
                 before=before, after=snapshot(workflow))


def latest_version(workflow: Workflow) -> WorkflowVersion:
    version = version_by_number(workflow, workflow.latest_version_number)
    assert version is not None, "a workflow always has at least one version"
    return version


def version_by_number(workflow: Workflow, number: int | None) -> WorkflowVersion | None:
    return db.session.scalar(
        sa.select(WorkflowVersion).where(WorkflowVersion.workflow_id == workflow.id, WorkflowVersion.number == number)
    )


def _add_version(workflow: Workflow, definition: Any, params: dict[str, Any], author_id: int | None) -> None:
    workflow.latest_version_number += 1
    db.session.add(WorkflowVersion(
        workspace_id=workflow.workspace_id, workflow_id=workflow.id, number=workflow.latest_version_number,
        definition=definition, params=params, author_id=author_id,
    ))
    db.session.flush()
