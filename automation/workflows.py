"""Workflow lifecycle: create, edit (every definition or params change is a new immutable version),
publish a version (validate, make it current), pause, resume, delete. No request handling here."""

from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa

from automation.definitions import DefinitionError, Problem, parse
from automation.models import Workflow, WorkflowStatus, WorkflowVersion, db, utcnow
from automation.workflow_checks import version_problems

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
    db.session.commit()
    return workflow


def update_workflow(
    workflow: Workflow, *, name: Any = None, definition: Any = None, params: dict[str, Any] | None = None,
    author_id: int | None = None,
) -> Workflow:
    """Rename and/or save a new version. Publishing it is a separate step. Commits.

    Raises:
        DefinitionError: the new name or definition has problems.
    """
    if name is not None:
        workflow.name = check_name(name)
    if definition is not None or params is not None:
        latest = latest_version(workflow)
        new_definition = definition if definition is not None else latest.definition
        try:
            check_definition(new_definition)
        except DefinitionError:
            db.session.rollback()
            raise
        new_params = params if params is not None else latest.params
        if new_definition != latest.definition or new_params != latest.params:
            workflow.params = new_params
            _add_version(workflow, new_definition, new_params, author_id)
    workflow.updated_at = utcnow()
    db.session.commit()
    return workflow


def publish(workflow: Workflow, version_number: int | None = None) -> Workflow:
    """Make a version (default: the latest) the one new runs use, and activate the workflow. Commits.

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
    version.published_at = version.published_at or utcnow()
    workflow.current_version_id = version.id
    workflow.status = WorkflowStatus.ACTIVE.value
    workflow.updated_at = utcnow()
    db.session.commit()
    return workflow


def pause(workflow: Workflow) -> Workflow:
    return _move(workflow, WorkflowStatus.ACTIVE, WorkflowStatus.PAUSED, "paused")


def resume(workflow: Workflow) -> Workflow:
    return _move(workflow, WorkflowStatus.PAUSED, WorkflowStatus.ACTIVE, "resumed")


def _move(workflow: Workflow, expected: WorkflowStatus, new: WorkflowStatus, verb: str) -> Workflow:
    if workflow.status != expected:
        raise LifecycleError(f"only a workflow that is {expected.value} can be {verb}; this one is {workflow.status}")
    workflow.status = new.value
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


def delete_workflow(workflow: Workflow) -> None:
    """Delete the workflow with its versions and executions."""
    workflow.current_version_id = None
    db.session.flush()
    db.session.delete(workflow)
    db.session.commit()


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
