"""Human approvals (``core.approval``): opening a task when a run reaches the step, approving, rejecting or
delegating it with a compare-and-set, and the output the run goes on with.

The run waits without holding a worker: the engine parks it ``waiting`` with no wake-up time, so neither
RQ nor the reaper wakes it, and an SLA passing leaves it waiting (reminders and escalation move the task,
not the run: automation/approval_sla.py). A decision moves the execution ``waiting → queued`` and the task out of
``pending`` in one transaction, then enqueues the run; the worker that picks it up finds the task decided
and finishes the step with ``{decision, decided_by, comment, decided_at}``. When the run is not
``waiting`` at that moment (a worker holds it for a moment), the decision is refused as a conflict and
nothing changes: a decision is never taken without the run being handed on.

With ``notify`` (an smtp or slack connection) the task owes its assignee a notice when it opens and again
when it is delegated; ``notice_due`` records that, and the scheduler's approval pass sends it
(automation/approval_notify.py), never the transaction that opens or moves the task.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from automation import audit, connections, dispatch
from automation.approval_inbox import ROLE_PREFIX, assignee_label
from automation.durations import DurationError, parse_duration
from automation.models import (
    ApprovalStatus,
    ApprovalTask,
    Execution,
    ExecutionEvent,
    ExecutionStatus,
    Membership,
    Role,
    User,
    db,
    utcnow,
)
from automation.transitions import change_status

# Viewers only read; every other role may decide what is addressed to it (owners: everything).
DECIDERS = frozenset({Role.OWNER, Role.EDITOR, Role.APPROVER})
DECIDED = frozenset({ApprovalStatus.APPROVED, ApprovalStatus.REJECTED})
# The connection types a task can notify through (integrations/email.py, integrations/slack.py).
NOTIFY_TYPES = frozenset({"smtp", "slack"})
# A task is "due soon" in the last fifth of its SLA (approval_inbox.py sorts by it).
DUE_SOON_SHARE = 0.2
MAX_TITLE = 300


class ApprovalInvalid(ValueError):
    """A step input that cannot make a task; the step fails with ``<field>: <problem>``."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field, self.problem = field, problem


class DecisionError(Exception):
    """A decision or delegation that was not carried out; nothing was changed."""


class BadDecision(DecisionError):
    """The request itself is wrong (a rejection without a comment, an unknown delegate)."""


class NotAllowed(DecisionError):
    """The caller may not decide this task."""


class Conflict(DecisionError):
    """Someone else got there first (decided, delegated, cancelled), or the run is not waiting right now."""


@dataclass(frozen=True)
class Assignee:
    """Who a task is addressed to: one user, or every member holding ``role``."""

    user: User | None = None
    role: Role | None = None

    def __str__(self) -> str:
        return self.user.email if self.user is not None else f"{ROLE_PREFIX}{self.role}"


@dataclass(frozen=True)
class Actor:
    """The person deciding, with their role in the task's workspace and where the request came from."""

    user: User
    role: Role
    ip: str | None = None


# -- the step ---------------------------------------------------------------------------------------


def open_task(execution: Execution, step_id: str, inputs: Mapping[str, Any]) -> ApprovalTask:
    """The task of ``step_id`` in this run, added to the session for the caller to commit.

    A decision already taken stands, also in a later round (the run was cancelled or failed after the
    decision, before a worker finished the step, and was retried): it is reused rather than asked again.
    So is this round's task when the step is entered again.

    Raises:
        ApprovalInvalid: an input is missing or wrong, or the assignee cannot decide in this workspace.
    """
    tasks = _tasks(execution.id, step_id)
    existing = next((t for t in tasks if t.status in DECIDED), None) or next(
        (t for t in tasks if t.round == execution.round), None)
    if existing is not None:
        return existing
    assignee = find_assignee(execution.workspace_id, inputs.get("assignee"), "assignee")
    title = _text(inputs.get("title"), "title")
    if not title:
        raise ApprovalInvalid("title", "required: what the approver is asked to decide")
    escalate_to = inputs.get("escalate_to") or None
    if escalate_to is not None:
        escalate_to = str(find_assignee(execution.workspace_id, escalate_to, "escalate_to"))
    due_in = _duration(inputs.get("due_in"), "due_in")
    remind_every = _duration(inputs.get("remind_every"), "remind_every")
    notify, channel = _notify_target(execution.workspace_id, inputs.get("notify"), inputs.get("notify_channel"))
    now = utcnow()
    task = ApprovalTask(
        workspace_id=execution.workspace_id, execution_id=execution.id, step_id=step_id, round=execution.round,
        assignee_user_id=assignee.user.id if assignee.user else None,
        assignee_role=assignee.role.value if assignee.role else None,
        # A rendered title can be any length; the inbox shows one line, the details carry the rest.
        title=title if len(title) <= MAX_TITLE else title[:MAX_TITLE - 1] + "…",
        details=_text(inputs.get("details"), "details"),
        status=ApprovalStatus.PENDING.value,
        due_at=now + due_in if due_in else None,
        due_soon_at=now + due_in * (1 - DUE_SOON_SHARE) if due_in else None,
        remind_every_seconds=round(remind_every.total_seconds()) if remind_every else None,
        escalate_to=escalate_to,
        notify_connection=notify, notify_channel=channel, notice_due="opened" if notify else None,
        created_at=now,
    )
    db.session.add(task)
    return task


def outcome(execution_id: int, step_id: str) -> dict[str, Any] | None:
    """The step's output once its task is decided, or None while it is pending.

    Raises:
        ApprovalInvalid: the task was cancelled or is gone, so the step cannot go on from it.
    """
    tasks = _tasks(execution_id, step_id)
    task = next((t for t in tasks if t.status in DECIDED), None) or next(iter(tasks), None)
    if task is None or task.status == ApprovalStatus.CANCELLED:
        raise ApprovalInvalid("task", "the approval task of this step was cancelled or deleted")
    if task.status == ApprovalStatus.PENDING:
        return None
    decider = db.session.get(User, task.decided_by_id) if task.decided_by_id else None
    return {
        "decision": task.status,
        "decided_by": decider.email if decider else None,
        "comment": task.comment,
        "decided_at": task.decided_at.isoformat() if task.decided_at else None,
    }


def cancel_pending(execution_id: int) -> int:
    """Cancel the run's pending tasks in the caller's transaction (the run is being cancelled)."""
    result = db.session.execute(
        sa.update(ApprovalTask)
        .where(ApprovalTask.execution_id == execution_id, ApprovalTask.status == ApprovalStatus.PENDING.value)
        .values(status=ApprovalStatus.CANCELLED.value)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def find_assignee(workspace_id: int, text: Any, field: str) -> Assignee:
    """``ada@example.com`` (a member who may decide) or ``role:<name>`` (a role that may decide).

    Raises:
        ApprovalInvalid: neither, not a member, deactivated, or a viewer.
    """
    if not isinstance(text, str) or not text.strip():
        raise ApprovalInvalid(field, "required: a member's email or role:<name>, e.g. role:approver")
    text = text.strip()
    choices = ", ".join(f"{ROLE_PREFIX}{r}" for r in sorted(DECIDERS))
    if text.lower().startswith(ROLE_PREFIX):
        name = text[len(ROLE_PREFIX):].strip().lower()
        if name not in {r.value for r in DECIDERS}:
            raise ApprovalInvalid(field, f"{text!r} is not a role that can decide approvals; use {choices}")
        return Assignee(role=Role(name))
    found = db.session.execute(
        sa.select(User, Membership.role).join(Membership, Membership.user_id == User.id)
        .where(User.email == text.lower(), Membership.workspace_id == workspace_id)
    ).first()
    if found is None:
        raise ApprovalInvalid(field, f"{text} is not a member of this workspace; use a member's email or {choices}")
    user, role = found
    if not user.is_active:
        raise ApprovalInvalid(field, f"{user.email} is deactivated")
    if Role(role) not in DECIDERS:
        raise ApprovalInvalid(field, f"{user.email} is a {role}, who cannot decide approvals; make them an approver")
    return Assignee(user=user)


# -- decisions --------------------------------------------------------------------------------------


def may_decide(task: ApprovalTask, user_id: int, role: Role) -> bool:
    """Owners decide any task; editors and approvers the ones assigned to them or to their role."""
    if role not in DECIDERS:
        return False
    if role == Role.OWNER:
        return True
    if task.assignee_user_id is not None:
        return task.assignee_user_id == user_id
    return task.assignee_role == role.value


def decide(task: ApprovalTask, actor: Actor, decision: ApprovalStatus, comment: str | None) -> ApprovalTask:
    """Approve or reject ``task`` and hand its run back to the queue. Commits, then enqueues the run.

    Raises:
        BadDecision: a rejection without a comment.
        NotAllowed: the actor may not decide this task.
        Conflict: the task is no longer pending as the actor saw it, or its run is not waiting right now.
    """
    if decision not in DECIDED:
        raise ValueError(f"{decision} is not a decision")
    comment = (comment or "").strip() or None
    if decision == ApprovalStatus.REJECTED and comment is None:
        raise BadDecision("a rejection needs a comment saying why")
    _check_allowed(task, actor)
    before, now = _snapshot(task), utcnow()
    verb = "approve" if decision == ApprovalStatus.APPROVED else "reject"
    reason = f"{decision.value} by {actor.user.email}" + (f": {comment}" if comment else "")
    # The run first, then the task: cancelling a run takes the same two rows in the same order, so the
    # two cannot deadlock; and of racing deciders only the first finds the run still waiting.
    moved = change_status(db.session, task.execution_id, ExecutionStatus.WAITING, ExecutionStatus.QUEUED,
                          reason=reason, enqueued_at=now, wake_at=None)
    if not moved or not _compare_and_set(task, status=decision.value, decided_by_id=actor.user.id,
                                         comment=comment, decided_at=now):
        raise _conflict(task)
    _audit(task, actor, f"approval.{verb}", before,
           {**before, "status": decision.value, "comment": comment, "decided_by": actor.user.email})
    db.session.commit()
    db.session.refresh(task)
    dispatch.enqueue(task.execution_id)
    return task


def delegate(task: ApprovalTask, actor: Actor, to: Any, comment: str | None = None) -> ApprovalTask:
    """Move a pending task to another member; the run's history and the audit log say who moved it to whom.

    Raises:
        BadDecision: ``to`` is not the email of a member who may decide, or already the assignee.
        NotAllowed: the actor may not decide this task.
        Conflict: the task is no longer pending as the actor saw it.
    """
    _check_allowed(task, actor)
    if isinstance(to, str) and to.strip().lower().startswith(ROLE_PREFIX):
        raise BadDecision("delegate to one person: 'to' is a member's email")
    try:
        target = find_assignee(task.workspace_id, to, "to")
    except ApprovalInvalid as exc:
        raise BadDecision(str(exc)) from None
    assert target.user is not None
    if task.assignee_user_id == target.user.id:
        raise BadDecision(f"this approval is already assigned to {target.user.email}")
    before = _snapshot(task)
    # The new assignee is told like the first one was, by the next approval pass.
    notice = {"notice_due": "delegated"} if task.notify_connection else {}
    if not _compare_and_set(task, assignee_user_id=target.user.id, assignee_role=None, **notice):
        raise _conflict(task)
    comment = (comment or "").strip() or None
    status = db.session.scalar(sa.select(Execution.status).where(Execution.id == task.execution_id))
    # Not a status change, but the run's history is where people look for what happened to it.
    db.session.add(ExecutionEvent(
        workspace_id=task.workspace_id, execution_id=task.execution_id, from_status=status, to_status=status,
        reason=f"delegated by {actor.user.email} to {target.user.email}" + (f": {comment}" if comment else ""),
        at=utcnow(),
    ))
    _audit(task, actor, "approval.delegate", before, {**before, "assignee": target.user.email})
    db.session.commit()
    db.session.refresh(task)
    return task


def _check_allowed(task: ApprovalTask, actor: Actor) -> None:
    if not may_decide(task, actor.user.id, actor.role):
        raise NotAllowed(f"this approval is for {assignee_label(task)}; only they or an owner can decide it")
    if task.status != ApprovalStatus.PENDING:
        raise Conflict(f"this approval was already {task.status}")


def _compare_and_set(task: ApprovalTask, **values: Any) -> bool:
    """Change the task only if it is still pending and assigned as the caller saw it (and checked against)."""
    result = db.session.execute(
        sa.update(ApprovalTask)
        .where(ApprovalTask.id == task.id, ApprovalTask.status == ApprovalStatus.PENDING.value,
               ApprovalTask.assignee_user_id.is_not_distinct_from(task.assignee_user_id),
               ApprovalTask.assignee_role.is_not_distinct_from(task.assignee_role))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _conflict(task: ApprovalTask) -> Conflict:
    """Undo this attempt and say why it lost."""
    seen = (task.assignee_user_id, task.assignee_role)
    db.session.rollback()
    if task.status != ApprovalStatus.PENDING:
        return Conflict(f"this approval was already {task.status}")
    if (task.assignee_user_id, task.assignee_role) != seen:
        return Conflict(f"this approval was delegated to {assignee_label(task)} meanwhile")
    status = db.session.scalar(sa.select(Execution.status).where(Execution.id == task.execution_id))
    if status in (ExecutionStatus.QUEUED, ExecutionStatus.RUNNING):
        return Conflict("the run is busy for a moment; try again")
    return Conflict(f"the run is {status}, so this approval can no longer be decided")


def _snapshot(task: ApprovalTask) -> dict[str, Any]:
    return {"status": task.status, "assignee": assignee_label(task), "step_id": task.step_id,
            "execution_id": task.execution_id}


def _audit(task: ApprovalTask, actor: Actor, action: str, before: dict[str, Any], after: dict[str, Any]) -> None:
    audit.record(task.workspace_id, action, "approval", task.id, actor=actor.user, before=before, after=after,
                 ip=actor.ip)


def _tasks(execution_id: int, step_id: str) -> list[ApprovalTask]:
    return list(db.session.scalars(
        sa.select(ApprovalTask).where(ApprovalTask.execution_id == execution_id, ApprovalTask.step_id == step_id)
        .order_by(ApprovalTask.round.desc())
    ))


def _text(value: Any, field: str) -> str:
    if value is None:
        return ""
    if isinstance(value, Mapping | list):
        raise ApprovalInvalid(field, "must be text, not a list or mapping")
    return str(value).strip()


def _notify_target(workspace_id: int, notify: Any, channel: Any) -> tuple[str | None, str | None]:
    """The connection name (and Slack channel) to notify through; an empty ``notify`` means no notices.

    Checked when the task opens, so a misspelt connection fails the step instead of silently notifying nobody.
    """
    name, channel = _text(notify, "notify") or None, _text(channel, "notify_channel") or None
    if name is None:
        return None, None
    found = connections.find(workspace_id, name)
    if found is None:
        raise ApprovalInvalid("notify", f"connection {name!r} does not exist in this workspace")
    if found.connector not in NOTIFY_TYPES:
        raise ApprovalInvalid("notify", f"{found.name!r} is a {found.connector} connection; notify through an "
                                        "smtp or slack connection")
    if found.connector == "slack" and channel is None:
        raise ApprovalInvalid("notify_channel", "required with a slack connection: the channel to post to")
    return found.name, channel if found.connector == "slack" else None


def _duration(value: Any, field: str) -> timedelta | None:
    if value is None or value == "":
        return None
    try:
        delta = parse_duration(value)
    except DurationError as exc:
        raise ApprovalInvalid(field, str(exc)) from None
    if delta <= timedelta(0):
        raise ApprovalInvalid(field, "must be longer than 0s")
    return delta
