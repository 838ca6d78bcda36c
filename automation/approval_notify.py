"""Telling assignees about approval tasks: an email to each of them, or one Slack message to the task's channel,
with the title, details, due time and signed links to approve or reject (automation/approval_links.py).

Notices go through the real connector actions (``email.send``, ``slack.post_message``) under the outbound
policy, from the scheduler's approval pass (automation/approval_sla.py), never from the transaction that
opens, delegates or decides a task. A notice that is owed (``ApprovalTask.notice_due``) is claimed with a
compare-and-set before it is sent, so two passes never send it twice; a crash between the claim and the
send loses it rather than repeating it. A failed notice is logged and recorded on the task
(``notify_error``, with ``notified_at``); it never fails the run.

Email links decide on behalf of the member they were sent to. A Slack channel is read by many people, so a
Slack message carries links only for a task assigned to one member (they decide as that member); for a
role, it asks the role's members to decide in Relay.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app

from automation import approval_links, connection_mail, connections
from automation.approval_inbox import ROLE_PREFIX, assignee_label
from automation.models import ApprovalStatus, ApprovalTask, Execution, Membership, User, Workflow, db, utcnow
from integrations.base import ConnectorError

log = logging.getLogger(__name__)

# The address links point at when RELAY_BASE_URL is unset: where `relay up` serves by default.
DEFAULT_BASE_URL = "http://localhost:5000"
BATCH = 100
INTROS = {
    "opened": "Your approval is needed",
    "delegated": "An approval was delegated to you",
    "escalated": "An approval was escalated to you because its SLA passed",
    "reminder": "Reminder: an approval is still waiting for you",
}
ACTIONS = {"smtp": "email.send", "slack": "slack.post_message"}


def deliver_owed(now: datetime | None = None, batch: int = BATCH) -> int:
    """Send the notices pending tasks owe (opened, delegated, escalated); how many were claimed."""
    now = now or utcnow()
    owed = db.session.execute(
        sa.select(ApprovalTask.id, ApprovalTask.notice_due)
        .where(ApprovalTask.status == ApprovalStatus.PENDING.value, ApprovalTask.notice_due.is_not(None))
        .order_by(ApprovalTask.id).limit(batch)
    ).all()
    claimed = 0
    for task_id, kind in owed:
        won = db.session.execute(
            sa.update(ApprovalTask).where(ApprovalTask.id == task_id, ApprovalTask.notice_due == kind)
            .values(notice_due=None).execution_options(synchronize_session=False)
        ).rowcount == 1
        db.session.commit()
        task = db.session.get(ApprovalTask, task_id) if won else None
        if task is not None:
            claimed += 1
            notify(task, kind, now)
    return claimed


def notify(task: ApprovalTask, kind: str, now: datetime | None = None) -> str | None:
    """Send one notice about ``task`` now and record the outcome on it (commits); the error, or None."""
    now = now or utcnow()
    try:
        _send(task, kind, now)
        error = None
    except ConnectorError as exc:
        error = exc.message
        log.warning("approval %s: the %s notice failed: %s", task.id, kind, error)
    db.session.execute(
        sa.update(ApprovalTask).where(ApprovalTask.id == task.id).values(notified_at=now, notify_error=error)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return error


def recipients(task: ApprovalTask) -> list[User]:
    """The active members the task is addressed to: its assignee, or everyone holding its role."""
    if task.assignee_user_id is not None:
        user = db.session.get(User, task.assignee_user_id)
        return [user] if user is not None and user.is_active else []
    return list(db.session.scalars(
        sa.select(User).join(Membership, Membership.user_id == User.id)
        .where(Membership.workspace_id == task.workspace_id, Membership.role == task.assignee_role,
               User.is_active.is_(True))
        .order_by(User.id)
    ))


def _send(task: ApprovalTask, kind: str, now: datetime) -> None:
    """Raises ConnectorError: no such connection, nobody to tell, or the connector's own failure (redacted)."""
    found = connections.find(task.workspace_id, task.notify_connection)
    if found is None or found.connector not in ACTIONS:
        raise ConnectorError(f"connection {task.notify_connection!r} is gone or is no longer smtp or slack")
    uses = ACTIONS[found.connector]
    people = recipients(task)
    if not people:
        raise ConnectorError(f"nobody to notify: {assignee_label(task)} has no active member")

    def call(inputs: dict[str, Any], recipient: str) -> None:
        # A message key of its own per notice and recipient: email.send derives the Message-ID from it.
        connection_mail.call_through(task.workspace_id, found.name, found.connector, uses, inputs,
                                     execution_id=task.execution_id,
                                     message_key=f"{task.step_id}.approval-{task.id}.{kind}.{int(now.timestamp())}."
                                                 f"{recipient}")

    subject = f"{INTROS[kind]}: {task.title}"
    if uses == "email.send":
        failed = []
        for person in people:
            try:
                call({"to": person.email, "subject": subject[:900], "text": message(task, kind, person, now)},
                     str(person.id))
            except ConnectorError as exc:
                failed.append(f"{person.email}: {exc.message}")
        if failed:
            raise ConnectorError("; ".join(failed))
    else:
        signer = people[0] if task.assignee_user_id is not None else None
        call({"channel": task.notify_channel or "", "text": message(task, kind, signer, now)}, "channel")


def message(task: ApprovalTask, kind: str, recipient: User | None, now: datetime) -> str:
    """The notice's text; links to approve and reject as ``recipient`` (without one: decide in Relay)."""
    base = (current_app.config.get("RELAY_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    run = db.session.execute(
        sa.select(Workflow.name, Execution.id).join(Execution, Execution.workflow_id == Workflow.id)
        .where(Execution.id == task.execution_id)
    ).first()
    due = "no deadline" if task.due_at is None else f"{task.due_at:%Y-%m-%d %H:%M} UTC" + (
        " (overdue)" if task.due_at <= now else "")
    lines = [f"{INTROS[kind]}.", "", task.title]
    if task.details:
        lines += ["", task.details]
    lines += ["", f"Due: {due}"]
    if run is not None:
        lines.append(f"Workflow: {run[0]} (run {run[1]})")
    if task.assignee_role is not None:
        lines.append(f"Assigned to: everyone with the role {task.assignee_role} ({ROLE_PREFIX}{task.assignee_role})")
    lines.append("")
    if recipient is not None:
        approve = approval_links.sign(task, "approve", recipient.id, now)
        reject = approval_links.sign(task, "reject", recipient.id, now)
        lines += [f"Approve: {base}{approval_links.PATH}{approve}", f"Reject: {base}{approval_links.PATH}{reject}",
                  "", f"Each link asks you to confirm, works once, and expires at "
                      f"{approval_links.expiry(task, now):%Y-%m-%d %H:%M} UTC."]
    lines.append(f"Decide in Relay: {base}/approvals")
    return "\n".join(lines)
