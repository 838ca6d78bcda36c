"""A Redis that restarts empty loses queued jobs, not executions: runs started while it was down are
accepted, and after it returns the reaper re-enqueues every queued row; each runs exactly once."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from automation.embedded_redis import EmbeddedRedis
from automation.models import Execution, db
from tests.conftest import wait_for
from tests.engine.conftest import ledger_counts

pytestmark = pytest.mark.storage


@pytest.fixture
def private_redis(tmp_path: Path):
    """A Redis of this test's own (never the machine's), so it can be killed and restarted."""
    redis = EmbeddedRedis(tmp_path / "own-redis").start()
    yield redis
    redis.stop()


@pytest.fixture
def settings(settings, private_redis):
    return {**settings, "REDIS_URL": private_redis.url}


def crash(redis: EmbeddedRedis) -> None:
    assert redis.process is not None
    redis.process.send_signal(signal.SIGKILL)  # no shutdown save: everything in it is lost
    redis.process.wait(timeout=10)
    (redis.folder / "redis.rdb").unlink(missing_ok=True)


def test_runs_survive_a_redis_that_restarts_empty(private_redis, publish, start, start_process, ledger):
    workflow = publish({"trigger": {"type": "manual"}, "steps": [
        {"id": "a", "uses": "test.record", "with": {"ledger": str(ledger), "mark": "{{ trigger.body.n }}"}},
    ]})
    before = start(workflow, {"n": "before"})  # enqueued, then lost with Redis
    crash(private_redis)
    during = start(workflow, {"n": "during"})  # accepted while Redis is down: the row is the outbox
    assert db.session.get(Execution, during).status == "queued"

    private_redis.start()
    start_process("worker")
    scheduler = start_process("scheduler")

    def all_done() -> bool:
        db.session.expire_all()
        return all(db.session.get(Execution, i).status == "succeeded" for i in (before, during))

    wait_for(all_done, timeout=60, message=f"not recovered; scheduler log:\n{scheduler.output()}")
    assert ledger_counts(ledger) == {"before": 1, "during": 1}


def test_a_running_worker_carries_on_after_redis_restarts(private_redis, publish, start, start_process, ledger):
    workflow = publish({"trigger": {"type": "manual"}, "steps": [
        {"id": "a", "uses": "test.record", "with": {"ledger": str(ledger), "mark": "after-restart"}},
    ]})
    worker = start_process("worker")
    wait_for(lambda: "Listening on" in worker.output() or "listening" in worker.output().lower(), timeout=30,
             message=worker.output())
    crash(private_redis)
    private_redis.start()

    execution_id = start(workflow)

    def done() -> bool:
        db.session.expire_all()
        return db.session.get(Execution, execution_id).status == "succeeded"

    wait_for(done, timeout=60, message=f"worker did not recover:\n{worker.output()}")
    assert worker.popen.poll() is None
    assert ledger_counts(ledger) == {"after-restart": 1}
