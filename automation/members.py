"""Who belongs to which workspace: creating workspaces, listing members, changing roles and removing members.

Every change here is audited (workspace.create, member.role_change, member.remove) in the transaction that
makes it. A workspace always keeps an owner: the last one can be neither demoted nor removed. The owners of
a workspace are counted after locking its row (``FOR UPDATE`` on PostgreSQL; SQLite has one writer at a
time), so two owners demoting each other at once cannot leave it without one. Removing a member revokes
their API tokens for that workspace in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from automation import audit
from automation.accounts import AccountError, parse_role
from automation.models import ApiToken, Membership, Role, User, Workspace, db, utcnow

MAX_WORKSPACE_NAME = 120


class MemberError(AccountError):
    """A membership change that is refused: the message says why, ``field`` names the input at fault, ``status``
    is 422 for a bad input and 409 for the last-owner rule."""

    def __init__(self, message: str, field: str | None = None, status: int = 422) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


@dataclass(frozen=True)
class WorkspaceChoice:
    """One workspace a user belongs to, for the switcher."""

    id: int
    name: str
    role: str


def check_workspace_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise MemberError("a workspace needs a name", "name")
    name = name.strip()
    if len(name) > MAX_WORKSPACE_NAME:
        raise MemberError(f"a workspace name has at most {MAX_WORKSPACE_NAME} characters", "name")
    if any(ch < " " or ch == "\x7f" for ch in name):
        raise MemberError("a workspace name has no line breaks or control characters", "name")
    if db.session.scalar(sa.select(Workspace.id).where(Workspace.name == name)) is not None:
        raise MemberError(f"a workspace named {name!r} already exists", "name")
    return name


def create_workspace(name: Any, *, owner: User | None, actor_label: str | None = None) -> Workspace:
    """A new workspace, with ``owner`` (when given) as its owner. Commits.

    Raises:
        MemberError: an empty, over-long or taken name.
    """
    workspace = Workspace(name=check_workspace_name(name))
    db.session.add(workspace)
    db.session.flush()
    if owner is not None:
        db.session.add(Membership(user_id=owner.id, workspace_id=workspace.id, role=Role.OWNER.value))
    audit.record(workspace.id, "workspace.create", "workspace", workspace.id, actor=owner, actor_label=actor_label,
                 after={"name": workspace.name, "owner": owner.email if owner else None})
    db.session.commit()
    return workspace


def all_workspaces() -> list[tuple[Workspace, int]]:
    """Every workspace with its number of members, by id."""
    counts = (sa.select(Membership.workspace_id, sa.func.count().label("members"))
              .group_by(Membership.workspace_id).subquery())
    rows = db.session.execute(
        sa.select(Workspace, sa.func.coalesce(counts.c.members, 0))
        .outerjoin(counts, counts.c.workspace_id == Workspace.id).order_by(Workspace.id)
    ).all()
    return [(workspace, int(members)) for workspace, members in rows]


def workspaces_of(user_id: int) -> list[WorkspaceChoice]:
    rows = db.session.execute(
        sa.select(Workspace.id, Workspace.name, Membership.role)
        .join(Membership, Membership.workspace_id == Workspace.id)
        .where(Membership.user_id == user_id).order_by(Workspace.name, Workspace.id)
    ).all()
    return [WorkspaceChoice(id=row[0], name=row[1], role=row[2]) for row in rows]


def members_query(workspace_id: int) -> sa.Select[tuple[Membership, User]]:
    return (sa.select(Membership, User).join(User, User.id == Membership.user_id)
            .where(Membership.workspace_id == workspace_id).order_by(User.email))


def describe(membership: Membership, user: User) -> dict[str, Any]:
    return {"user_id": user.id, "email": user.email, "name": user.name, "role": membership.role,
            "active": user.is_active, "joined_at": membership.created_at.isoformat()}


def change_role(membership: Membership, role: Any, *, actor: User) -> bool:
    """Give the member ``role``; False when they already had it (nothing changes, nothing is audited). Commits.

    Raises:
        MemberError: an unknown role, or the workspace's last owner would be demoted.
    """
    if not isinstance(role, str):
        raise MemberError("role must be one of " + ", ".join(r.value for r in Role), "role")
    try:
        new_role = parse_role(role)
    except AccountError as exc:
        raise MemberError(str(exc), "role") from None
    if membership.role == new_role.value:
        return False
    if membership.role == Role.OWNER.value:
        _keep_an_owner(membership, "demoted")
    user = membership.user
    before = describe(membership, user)
    membership.role = new_role.value
    audit.record(membership.workspace_id, "member.role_change", "user", user.id, actor=actor, before=before,
                 after=describe(membership, user))
    db.session.commit()
    return True


def remove_member(membership: Membership, *, actor: User) -> int:
    """Take the member out of the workspace and revoke their tokens there; how many tokens were revoked. Commits.

    Raises:
        MemberError: the member is the workspace's last owner.
    """
    if membership.role == Role.OWNER.value:
        _keep_an_owner(membership, "removed")
    user = membership.user
    before = describe(membership, user)
    revoked = db.session.execute(
        sa.update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.workspace_id == membership.workspace_id,
                                  ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow()).execution_options(synchronize_session=False)
    ).rowcount
    db.session.delete(membership)
    audit.record(membership.workspace_id, "member.remove", "user", user.id, actor=actor, before=before,
                 after={"tokens_revoked": revoked})
    db.session.commit()
    return int(revoked or 0)


def _keep_an_owner(membership: Membership, what: str) -> None:
    db.session.execute(sa.select(Workspace.id).where(Workspace.id == membership.workspace_id).with_for_update())
    owners = db.session.scalar(
        sa.select(sa.func.count()).select_from(Membership)
        .where(Membership.workspace_id == membership.workspace_id, Membership.role == Role.OWNER.value)
    )
    if (owners or 0) <= 1:
        db.session.rollback()  # releases the workspace lock
        raise MemberError(f"the last owner of a workspace cannot be {what}; make another member an owner first",
                          "role" if what == "demoted" else None, status=409)
