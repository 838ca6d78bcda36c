"""Status changes are compare-and-sets: of racing claims exactly one wins and writes one event."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from automation.leases import claim
from automation.models import Execution, ExecutionEvent, db
from automation.transitions import change_status

pytestmark = pytest.mark.storage


def test_five_threads_racing_to_claim_a_queued_execution_produce_one_winner_and_one_event(publish, start):
    workflow = publish({"trigger": {"type": "manual"}, "steps": [{"id": "a", "uses": "core.set", "with": {}}]})
    execution_id = start(workflow)
    engine = db.engine
    barrier = threading.Barrier(5)
    tokens: list[str | None] = []
    lock = threading.Lock()

    def contender(n: int) -> None:
        with Session(engine) as session:
            barrier.wait()
            token = claim(session, execution_id, lease=30, worker=f"thread-{n}")
            with lock:
                tokens.append(token)

    threads = [threading.Thread(target=contender, args=(n,)) for n in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    winners = [t for t in tokens if t is not None]
    assert len(tokens) == 5
    assert len(winners) == 1
    db.session.expire_all()
    assert db.session.get(Execution, execution_id).run_token == winners[0]
    running_events = db.session.scalars(
        sa.select(ExecutionEvent).where(ExecutionEvent.execution_id == execution_id,
                                        ExecutionEvent.to_status == "running")
    ).all()
    assert len(running_events) == 1


def test_change_from_a_status_the_row_is_not_in_changes_nothing(publish, start):
    workflow = publish({"trigger": {"type": "manual"}, "steps": [{"id": "a", "uses": "core.set", "with": {}}]})
    execution_id = start(workflow)

    assert change_status(db.session, execution_id, "waiting", "running") is False
    db.session.rollback()
    assert db.session.get(Execution, execution_id).status == "queued"
    assert db.session.query(ExecutionEvent).count() == 1


def test_a_change_the_state_machine_forbids_is_refused(publish, start):
    workflow = publish({"trigger": {"type": "manual"}, "steps": [{"id": "a", "uses": "core.set", "with": {}}]})
    execution_id = start(workflow)

    with pytest.raises(ValueError, match="cannot go from succeeded to running"):
        change_status(db.session, execution_id, "succeeded", "running")
