"""The audit trail's one writer: every change a person (or Relay itself) makes adds one ``AuditLog`` row here.

Rows are only ever added (on PostgreSQL a trigger refuses UPDATE and DELETE of them:
automation/models/append_only.py). ``before`` and ``after`` are what the API would show of the target —
never a secret: callers pass described values (``connections.describe``), not model rows. The row joins
the caller's transaction, so a change and its audit entry are committed, or rolled back, together.
What is recorded, and by whom, is listed in docs/audit.md.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import has_request_context, request

from automation.models import AuditLog, Membership, User, db

# Who acts when no person does (the scheduler's approval pass, `relay` commands): a name, not a user.
SYSTEM = "relay"


def record(workspace_id: int, action: str, target_type: str | None, target_id: int | str | None, *,
           actor: User | None, before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
           actor_label: str | None = None, ip: str | None = None) -> AuditLog:
    """Add one entry to the session (the caller commits). ``ip`` defaults to the current request's address."""
    if ip is None and has_request_context():
        ip = request.remote_addr
    entry = AuditLog(
        workspace_id=workspace_id, actor_user_id=actor.id if actor else None,
        actor=actor.email if actor else (actor_label or SYSTEM), action=action, target_type=target_type,
        target_id=None if target_id is None else str(target_id), ip=ip, before=before, after=after,
    )
    db.session.add(entry)
    return entry


def record_for_user(user: User, action: str, *, actor: User | None, actor_label: str | None = None,
                    after: dict[str, Any] | None = None) -> list[AuditLog]:
    """One entry about ``user`` in each workspace they belong to (a sign-in or a password change is the
    person's, not one workspace's: every workspace's owners see it). The caller commits."""
    workspace_ids = db.session.scalars(
        sa.select(Membership.workspace_id).where(Membership.user_id == user.id).order_by(Membership.workspace_id)
    ).all()
    return [record(workspace_id, action, "user", user.id, actor=actor, actor_label=actor_label, after=after)
            for workspace_id in workspace_ids]


def user(user_id: int | None) -> User | None:
    """The acting user of an id from ``g.identity`` or an ``author_id`` argument (None: Relay itself)."""
    return db.session.get(User, user_id) if user_id is not None else None
