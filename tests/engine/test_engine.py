"""The engine runs an execution's steps in order, records every attempt, and ends, parks or fails it.

These tests run the job function in-process; tests/engine/test_worker_processes.py runs real workers.
"""

from __future__ import annotations

import pytest

from automation.models import ExecutionStatus, db
from tests.engine.conftest import events, fast_forward, ledger_counts, run, step_runs

pytestmark = pytest.mark.storage

SET_FILTER_SET = {
    "trigger": {"type": "manual"},
    "steps": [
        {"id": "lead", "uses": "core.set",
         "with": {"name": "{{ trigger.body.name | upper }}", "amount": "{{ trigger.body.amount * 2 }}"}},
        {"id": "big", "uses": "core.filter", "with": {"condition": "{{ steps.lead.output.amount > 100 }}"}},
        {"id": "summary", "uses": "core.set",
         "with": {"text": "{{ steps.lead.output.name }} owes {{ steps.lead.output.amount }}",
                  "region": "{{ params.region | default('none') }}"}},
    ],
}


def test_steps_run_in_order_and_outputs_are_the_rendered_values(publish, start):
    workflow = publish(SET_FILTER_SET, params={"region": "EMEA"})
    execution = run(start(workflow, {"name": "ada", "amount": 60}))

    assert execution.status == ExecutionStatus.SUCCEEDED
    runs = step_runs(execution.id)
    assert [(r.step_id, r.status) for r in runs] == [
        ("lead", "succeeded"), ("big", "succeeded"), ("summary", "succeeded")
    ]
    assert runs[0].output == {"name": "ADA", "amount": 120}
    assert runs[1].output == {"passed": True}
    assert runs[2].output == {"text": "ADA owes 120", "region": "EMEA"}
    assert events(execution.id) == [(None, "queued"), ("queued", "running"), ("running", "succeeded")]


def test_false_filter_ends_the_run_succeeded_and_skips_later_steps(publish, start):
    workflow = publish(SET_FILTER_SET, params={"region": "EMEA"})
    execution = run(start(workflow, {"name": "bob", "amount": 10}))

    assert execution.status == ExecutionStatus.SUCCEEDED
    assert [(r.step_id, r.status) for r in step_runs(execution.id)] == [
        ("lead", "succeeded"), ("big", "succeeded"), ("summary", "skipped")
    ]
    assert step_runs(execution.id)[1].output == {"passed": False}


def test_step_with_false_if_is_skipped_and_the_run_goes_on(publish, start):
    workflow = publish({"trigger": {"type": "manual"}, "steps": [
        {"id": "maybe", "uses": "core.set", "if": "{{ trigger.body.vip }}", "with": {"x": 1}},
        {"id": "after", "uses": "core.set", "with": {"status": "{{ steps.maybe.status }}"}},
    ]})
    execution = run(start(workflow, {"vip": False}))

    assert execution.status == ExecutionStatus.SUCCEEDED
    runs = step_runs(execution.id)
    assert [(r.step_id, r.status) for r in runs] == [("maybe", "skipped"), ("after", "succeeded")]
    assert runs[1].output == {"status": "skipped"}


def test_expression_error_fails_the_run_naming_step_and_field(publish, start):
    workflow = publish({"trigger": {"type": "manual"}, "steps": [
        {"id": "greet", "uses": "core.set", "with": {"text": "Hi {{ trigger.body.nme.first }}"}},
    ]})
    execution = run(start(workflow, {"name": "ada"}))

    assert execution.status == ExecutionStatus.FAILED
    assert execution.error_step == "greet"
    assert "steps.greet.with.text" in execution.error
    assert step_runs(execution.id)[0].status == "failed"


def test_retryable_failure_is_retried_after_backoff_until_it_succeeds(publish, start, ledger):
    workflow = publish({"trigger": {"type": "manual"}, "steps": [
        {"id": "call", "uses": "test.flaky", "retry": {"attempts": 3, "backoff": "1s"},
         "with": {"ledger": str(ledger), "mark": "call", "failures": 2}},
    ]})
    execution_id = start(workflow)

    first = run(execution_id)
    assert first.status == ExecutionStatus.WAITING
    assert first.wake_at is not None
    fast_forward(execution_id)
    assert run(execution_id).status == ExecutionStatus.WAITING
    fast_forward(execution_id)
    final = run(execution_id)

    assert final.status == ExecutionStatus.SUCCEEDED
    assert [(r.attempt, r.status) for r in step_runs(execution_id)] == [
        (1, "failed"), (2, "failed"), (3, "succeeded")
    ]
    assert ledger_counts(ledger) == {"call": 3}


def test_retries_stop_after_the_last_attempt_and_the_run_fails(publish, start, ledger):
    workflow = publish({"trigger": {"type": "manual"}, "steps": [
        {"id": "call", "uses": "test.flaky", "retry": {"attempts": 2, "backoff": "1s"},
         "with": {"ledger": str(ledger), "mark": "call", "failures": 5}},
    ]})
    execution_id = start(workflow)
    run(execution_id)
    fast_forward(execution_id)
    final = run(execution_id)

    assert final.status == ExecutionStatus.FAILED
    assert final.error == "planned failure 2 of 5"
    assert len(step_runs(execution_id)) == 2


def test_non_retryable_failure_is_not_retried(publish, start, ledger):
    workflow = publish({"trigger": {"type": "manual"}, "steps": [
        {"id": "call", "uses": "test.flaky", "retry": {"attempts": 5, "backoff": "1s"},
         "with": {"ledger": str(ledger), "mark": "call", "failures": 1, "retryable": False}},
    ]})
    execution = run(start(workflow))

    assert execution.status == ExecutionStatus.FAILED
    assert [(r.status, r.retryable) for r in step_runs(execution.id)] == [("failed", False)]


def test_step_past_its_timeout_fails_with_a_timeout_error(publish, start, ledger):
    workflow = publish({"trigger": {"type": "manual"}, "steps": [
        {"id": "slow", "uses": "test.sleep", "timeout": "1s",
         "with": {"ledger": str(ledger), "mark": "slow", "seconds": 5}},
    ]})
    execution = run(start(workflow))

    assert execution.status == ExecutionStatus.FAILED
    assert "did not finish within 1s" in execution.error


def test_delay_parks_the_run_as_waiting_and_resumes_after_it(publish, start, ledger):
    workflow = publish({"trigger": {"type": "manual"}, "steps": [
        {"id": "before", "uses": "test.record", "with": {"ledger": str(ledger), "mark": "before"}},
        {"id": "pause", "uses": "core.delay", "with": {"for": "1h"}},
        {"id": "after", "uses": "test.record", "with": {"ledger": str(ledger), "mark": "after"}},
    ]})
    execution_id = start(workflow)

    parked = run(execution_id)
    assert parked.status == ExecutionStatus.WAITING
    assert parked.run_token is None
    assert ledger_counts(ledger) == {"before": 1}
    assert run(execution_id).status == ExecutionStatus.WAITING  # woken early: parks again, runs nothing

    fast_forward(execution_id)
    final = run(execution_id)
    assert final.status == ExecutionStatus.SUCCEEDED
    assert ledger_counts(ledger) == {"before": 1, "after": 1}
    assert [r.status for r in step_runs(execution_id)] == ["succeeded", "succeeded", "succeeded"]


def test_delay_until_a_time_in_the_past_continues_at_once(publish, start):
    workflow = publish({"trigger": {"type": "manual"}, "steps": [
        {"id": "pause", "uses": "core.delay", "with": {"until": "2020-01-01T00:00:00+00:00"}},
        {"id": "after", "uses": "core.set", "with": {"ok": True}},
    ]})
    assert run(start(workflow)).status == ExecutionStatus.SUCCEEDED


def test_finished_execution_is_not_run_again(publish, start, ledger):
    workflow = publish({"trigger": {"type": "manual"}, "steps": [
        {"id": "once", "uses": "test.record", "with": {"ledger": str(ledger), "mark": "once"}},
    ]})
    execution_id = start(workflow)
    run(execution_id)
    run(execution_id)

    assert ledger_counts(ledger) == {"once": 1}
    assert len(events(execution_id)) == 3


def test_cancelled_waiting_execution_does_not_resume(publish, start, ledger):
    from automation import ingest
    from automation.models import Execution

    workflow = publish({"trigger": {"type": "manual"}, "steps": [
        {"id": "pause", "uses": "core.delay", "with": {"for": "1s"}},
        {"id": "after", "uses": "test.record", "with": {"ledger": str(ledger), "mark": "after"}},
    ]})
    execution_id = start(workflow)
    run(execution_id)
    ingest.cancel_execution(db.session.get(Execution, execution_id))
    fast_forward(execution_id)

    assert run(execution_id).status == ExecutionStatus.CANCELLED
    assert ledger_counts(ledger) == {}


def test_retry_of_a_failed_execution_reruns_only_the_failed_step(publish, start, ledger):
    from automation import ingest
    from automation.models import Execution

    workflow = publish({"trigger": {"type": "manual"}, "steps": [
        {"id": "first", "uses": "test.record", "with": {"ledger": str(ledger), "mark": "first"}},
        {"id": "second", "uses": "test.flaky",
         "with": {"ledger": str(ledger), "mark": "second", "failures": 1, "retryable": False}},
    ]})
    execution_id = start(workflow)
    assert run(execution_id).status == ExecutionStatus.FAILED
    ingest.retry_execution(db.session.get(Execution, execution_id))
    final = run(execution_id)

    assert final.status == ExecutionStatus.SUCCEEDED
    assert ledger_counts(ledger) == {"first": 1, "second": 2}
    assert events(execution_id)[-3:] == [("failed", "queued"), ("queued", "running"), ("running", "succeeded")]


def test_same_idempotency_key_gives_one_execution(publish, start):
    from automation.models import Execution

    workflow = publish(SET_FILTER_SET)
    first = start(workflow, {"name": "a", "amount": 1}, key="order-17")
    second = start(workflow, {"name": "a", "amount": 1}, key="order-17")

    assert first == second
    assert db.session.query(Execution).count() == 1


def test_concurrent_requests_with_one_idempotency_key_create_one_execution(app, publish):
    import threading

    from automation import ingest
    from automation.models import Execution, Workflow

    workflow_id = publish(SET_FILTER_SET).id
    barrier = threading.Barrier(8)
    ids: list[int] = []

    def post() -> None:
        with app.app_context():
            workflow = db.session.get(Workflow, workflow_id)
            barrier.wait()
            execution, _ = ingest.start_execution(workflow, trigger_kind="manual", payload={"body": {}},
                                                  idempotency_key="same")
            ids.append(execution.id)

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(ids) == 8
    assert len(set(ids)) == 1
    assert db.session.query(Execution).count() == 1


def test_an_internal_error_fails_the_run_instead_of_retrying_forever(publish, start, monkeypatch):
    from automation import engine

    def broken_context(self):
        raise KeyError("bug")

    monkeypatch.setattr(engine.Runner, "_context", broken_context)
    execution = run(start(publish(SET_FILTER_SET)))

    assert execution.status == ExecutionStatus.FAILED
    assert "internal error (KeyError)" in execution.error
    assert execution.run_token is None


def test_a_step_whose_worker_died_three_times_fails_the_run(publish, start, ledger):
    from automation.models import StepRun

    workflow = publish({"trigger": {"type": "manual"}, "steps": [
        {"id": "deadly", "uses": "test.record", "with": {"ledger": str(ledger), "mark": "deadly"}},
    ]})
    execution_id = start(workflow)
    for attempt in (1, 2, 3):
        db.session.add(StepRun(workspace_id=workflow.workspace_id, execution_id=execution_id, step_id="deadly",
                               action="test.record", status="interrupted", attempt=attempt))
    db.session.commit()

    execution = run(execution_id)

    assert execution.status == ExecutionStatus.FAILED
    assert "stopped 3 times" in execution.error
    assert ledger_counts(ledger) == {}
