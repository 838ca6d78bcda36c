"""Execution status changes as compare-and-set UPDATEs, each writing exactly one ExecutionEvent.

Every change of ``executions.status`` in Relay goes through ``change_status``: the UPDATE names the
status it expects, so of several processes racing for the same change exactly one sees a row updated,
and only that one writes the event. The caller owns the transaction and commits.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automation.models import Execution, ExecutionEvent, ExecutionStatus, utcnow

# Which statuses may follow which; anything else is a programming error, not a lost race.
ALLOWED: dict[ExecutionStatus, frozenset[ExecutionStatus]] = {
    ExecutionStatus.QUEUED: frozenset({ExecutionStatus.RUNNING, ExecutionStatus.CANCELLED}),
    ExecutionStatus.RUNNING: frozenset(
        {
            ExecutionStatus.SUCCEEDED,
            ExecutionStatus.FAILED,
            ExecutionStatus.WAITING,
            ExecutionStatus.QUEUED,
            ExecutionStatus.CANCELLED,
        }
    ),
    # waiting → queued: an approval decision hands the parked run to the queue (automation/approvals.py).
    ExecutionStatus.WAITING: frozenset({ExecutionStatus.RUNNING, ExecutionStatus.QUEUED, ExecutionStatus.CANCELLED}),
    ExecutionStatus.FAILED: frozenset({ExecutionStatus.QUEUED}),
    ExecutionStatus.CANCELLED: frozenset({ExecutionStatus.QUEUED}),
    ExecutionStatus.SUCCEEDED: frozenset(),
}


def change_status(
    session: Session,
    execution: Execution | int,
    expected: ExecutionStatus | str,
    new: ExecutionStatus | str,
    *,
    reason: str | None = None,
    conditions: tuple[sa.ColumnElement[bool], ...] = (),
    **values: Any,
) -> bool:
    """Move one execution from ``expected`` to ``new`` if (and only if) it is still ``expected``.

    Args:
        execution: the row or its id.
        conditions: extra WHERE clauses (a fencing token, a due time) that must also hold.
        values: other columns to set in the same UPDATE.

    Returns:
        True when this call made the change (and wrote its event); False when the row was not in
        ``expected`` (or a condition failed) — someone else got there first.
    """
    expected, new = ExecutionStatus(expected), ExecutionStatus(new)
    if new not in ALLOWED[expected]:
        raise ValueError(f"an execution cannot go from {expected} to {new}")
    if isinstance(execution, Execution):
        execution_id, workspace_id = execution.id, execution.workspace_id
    else:
        execution_id = execution
        workspace_id = session.scalar(sa.select(Execution.workspace_id).where(Execution.id == execution_id))
        if workspace_id is None:
            return False
    result = session.execute(
        sa.update(Execution)
        .where(Execution.id == execution_id, Execution.status == expected.value, *conditions)
        .values(status=new.value, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    session.add(
        ExecutionEvent(
            workspace_id=workspace_id,
            execution_id=execution_id,
            from_status=expected.value,
            to_status=new.value,
            reason=reason,
            at=utcnow(),
        )
    )
    session.flush()
    return True
