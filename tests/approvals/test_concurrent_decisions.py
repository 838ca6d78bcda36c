"""Racing decisions through a real threaded HTTP server: of ten approve/reject calls on one task exactly
one wins; the rest get 409 and leave no trace in the run's history or the audit log."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import requests
import sqlalchemy as sa
from flask import Flask
from werkzeug.serving import make_server

from automation.models import AuditLog, Execution, ExecutionEvent, db
from tests.approvals.conftest import task_of

pytestmark = pytest.mark.storage
CALLERS = 10


@pytest.fixture
def server(app: Flask) -> Iterator[str]:
    """The app on a threaded WSGI server on a free local port; its base URL."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, name="approvals-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=10)


def test_ten_concurrent_decisions_on_one_task_have_exactly_one_winner(parked, tokens, server):
    execution_id = parked()
    task_id = task_of(execution_id).id
    barrier = threading.Barrier(CALLERS)
    answers: list[tuple[int, str]] = []
    lock = threading.Lock()

    def decide(n: int) -> None:
        verb = "approve" if n % 2 == 0 else "reject"
        barrier.wait()
        response = requests.post(f"{server}/api/v1/approvals/{task_id}/{verb}", json={"comment": f"caller {n}"},
                                 headers=tokens["owner"], timeout=60)
        with lock:
            answers.append((response.status_code, verb))

    threads = [threading.Thread(target=decide, args=(n,)) for n in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)

    assert sorted(status for status, _ in answers) == [200] + [409] * (CALLERS - 1)
    [winner] = [verb for status, verb in answers if status == 200]
    task = task_of(execution_id)
    assert task.status == {"approve": "approved", "reject": "rejected"}[winner]
    decisions = db.session.scalars(
        sa.select(ExecutionEvent).where(ExecutionEvent.execution_id == execution_id,
                                        ExecutionEvent.from_status == "waiting")
    ).all()
    assert [(e.to_status, e.reason) for e in decisions] == [
        ("queued", f"{task.status} by olga@example.com: {task.comment}")]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog)) == 1
    assert db.session.get(Execution, execution_id).status == "queued"
