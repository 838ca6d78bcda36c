"""Real `relay worker` processes run executions from Redis; a worker killed with SIGKILL mid-run loses
nothing: the reaper hands the run to another worker and no finished step runs twice."""

from __future__ import annotations

import time

import pytest

from automation import dispatch
from automation.models import Execution, ExecutionStatus, db
from automation.reaper import reap
from tests.conftest import wait_for
from tests.engine.conftest import ledger_counts, step_runs

pytestmark = pytest.mark.storage


def status_of(execution_id: int) -> str:
    db.session.expire_all()
    execution = db.session.get(Execution, execution_id)
    assert execution is not None
    return execution.status


@pytest.mark.parametrize("worker_class", ["fork", "simple"])
def test_worker_process_runs_a_queued_execution_to_success(publish, start, start_process, ledger, worker_class):
    workflow = publish({"trigger": {"type": "manual"}, "steps": [
        {"id": "a", "uses": "test.record", "with": {"ledger": str(ledger), "mark": "a"}},
        {"id": "b", "uses": "core.set", "with": {"echo": "{{ steps.a.output.mark }}"}},
    ]})
    execution_id = start(workflow)
    worker = start_process("worker", env={"RELAY_WORKER_CLASS": worker_class})

    wait_for(lambda: status_of(execution_id) == "succeeded", timeout=30,
             message=f"execution not finished; worker log:\n{worker.output()}")
    assert step_runs(execution_id)[1].output == {"echo": "a"}


def test_delay_wakes_through_the_workers_rq_scheduler(publish, start, start_process, ledger):
    workflow = publish({"trigger": {"type": "manual"}, "steps": [
        {"id": "pause", "uses": "core.delay", "with": {"for": "2s"}},
        {"id": "after", "uses": "test.record", "with": {"ledger": str(ledger), "mark": "after"}},
    ]})
    execution_id = start(workflow)
    worker = start_process("worker")

    wait_for(lambda: status_of(execution_id) == "waiting", timeout=30, message=worker.output())
    wait_for(lambda: status_of(execution_id) == "succeeded", timeout=30,
             message=f"delay never woke; worker log:\n{worker.output()}")
    assert ledger_counts(ledger) == {"after": 1}


def test_worker_killed_during_a_slow_step_is_resumed_without_repeating_finished_steps(
    publish, start, start_process, ledger
):
    workflow = publish({"trigger": {"type": "manual"}, "steps": [
        {"id": "first", "uses": "test.record", "with": {"ledger": str(ledger), "mark": "first"}},
        {"id": "slow", "uses": "test.sleep", "with": {"ledger": str(ledger), "mark": "slow", "seconds": 4}},
        {"id": "last", "uses": "test.record", "with": {"ledger": str(ledger), "mark": "last"}},
    ]})
    execution_id = start(workflow)
    doomed = start_process("worker")
    wait_for(lambda: any(r.step_id == "slow" and r.status == "running" for r in step_runs(execution_id)),
             timeout=30, message=doomed.output())
    doomed.kill()
    assert status_of(execution_id) == "running"

    start_process("worker")
    scheduler = start_process("scheduler")
    wait_for(lambda: status_of(execution_id) == "succeeded", timeout=60,
             message=f"not resumed; scheduler log:\n{scheduler.output()}")

    assert ledger_counts(ledger) == {"first": 1, "slow": 1, "last": 1}
    runs = [(r.step_id, r.status) for r in step_runs(execution_id)]
    assert runs == [("first", "succeeded"), ("slow", "interrupted"), ("slow", "succeeded"), ("last", "succeeded")]


def test_worker_killed_while_a_delay_waits_loses_nothing(publish, start, start_process, ledger):
    workflow = publish({"trigger": {"type": "manual"}, "steps": [
        {"id": "first", "uses": "test.record", "with": {"ledger": str(ledger), "mark": "first"}},
        {"id": "pause", "uses": "core.delay", "with": {"for": "3s"}},
        {"id": "last", "uses": "test.record", "with": {"ledger": str(ledger), "mark": "last"}},
    ]})
    execution_id = start(workflow)
    doomed = start_process("worker")
    wait_for(lambda: status_of(execution_id) == "waiting", timeout=30, message=doomed.output())
    doomed.kill()

    start_process("worker")
    start_process("scheduler")
    wait_for(lambda: status_of(execution_id) == "succeeded", timeout=60)
    assert ledger_counts(ledger) == {"first": 1, "last": 1}


def test_reaper_enqueues_an_execution_whose_job_never_reached_redis(publish, start, start_process, ledger):
    workflow = publish({"trigger": {"type": "manual"}, "steps": [
        {"id": "a", "uses": "test.record", "with": {"ledger": str(ledger), "mark": "a"}},
    ]})
    execution_id = start(workflow)
    dispatch.queue().empty()  # as if Redis had lost the job after the row was committed
    time.sleep(1.2)  # older than RELAY_QUEUED_GRACE
    report = reap()
    assert report.requeued == 1

    start_process("worker")
    wait_for(lambda: status_of(execution_id) == ExecutionStatus.SUCCEEDED, timeout=30)
    assert ledger_counts(ledger) == {"a": 1}



def test_retried_execution_runs_again_on_a_worker_under_the_same_job_id(publish, start, start_process, ledger):
    from automation import ingest

    workflow = publish({"trigger": {"type": "manual"}, "steps": [
        {"id": "call", "uses": "test.flaky",
         "with": {"ledger": str(ledger), "mark": "call", "failures": 1, "retryable": False}},
    ]})
    execution_id = start(workflow)
    worker = start_process("worker")
    wait_for(lambda: status_of(execution_id) == "failed", timeout=30, message=worker.output())

    ingest.retry_execution(db.session.get(Execution, execution_id))

    wait_for(lambda: status_of(execution_id) == "succeeded", timeout=30, message=worker.output())
    assert ledger_counts(ledger) == {"call": 2}


def test_sigterm_stops_an_idle_worker_promptly(start_process):
    import signal

    worker = start_process("worker")
    wait_for(lambda: "Listening on" in worker.output(), timeout=30, message=worker.output())
    started = time.monotonic()
    worker.popen.send_signal(signal.SIGTERM)

    assert worker.popen.wait(timeout=10) == 0
    assert time.monotonic() - started < 5
    assert "starting again" not in worker.output()


def test_a_worker_whose_registration_redis_lost_registers_again_after_its_next_job(
    app, publish, start, start_process, ledger
):
    import redis
    from rq import Queue, Worker

    client = redis.Redis.from_url(app.config["REDIS_URL"])
    queue = Queue(app.config["RELAY_QUEUE"], connection=client)
    worker = start_process("worker")
    [registered] = wait_for(lambda: Worker.all(queue=queue), timeout=30, message=worker.output())
    # What a Redis restart without persistence leaves: none of the worker's registration.
    client.delete("rq:workers", f"rq:workers:{queue.name}", registered.key)
    assert Worker.all(queue=queue) == []
    workflow = publish({"trigger": {"type": "manual"}, "steps": [
        {"id": "a", "uses": "test.record", "with": {"ledger": str(ledger), "mark": "a"}},
    ]})

    execution_id = start(workflow)

    wait_for(lambda: status_of(execution_id) == "succeeded", timeout=30, message=worker.output())
    [again] = wait_for(lambda: Worker.all(queue=queue), timeout=10, message=worker.output())
    assert again.name == registered.name
    assert "registered again" in worker.output()
