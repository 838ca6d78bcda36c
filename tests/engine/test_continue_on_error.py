"""``continue_on_error``: a step's final failure is recorded and the run goes on, with the failure visible to
later steps as ``steps.<id>.status`` and ``steps.<id>.error``."""

from __future__ import annotations

import pytest

from automation.definitions import Problem, validate
from automation.models import ExecutionStatus
from tests.engine.conftest import fast_forward, ledger_counts, run, step_runs

pytestmark = pytest.mark.storage


def check_then_alert(ledger, *, failures: int, retryable: bool = False, attempts: int = 1) -> dict:
    return {"trigger": {"type": "manual"}, "steps": [
        {"id": "check", "uses": "test.flaky", "continue_on_error": True,
         "retry": {"attempts": attempts, "backoff": "1s"},
         "with": {"ledger": str(ledger), "mark": "check", "failures": failures, "retryable": retryable}},
        {"id": "alert", "uses": "test.record", "if": "{{ steps.check.status == 'failed' }}",
         "with": {"ledger": str(ledger), "mark": "alert: {{ steps.check.error }}"}},
        {"id": "done", "uses": "core.set", "with": {"check": "{{ steps.check.status }}"}},
    ]}


def test_a_failed_step_that_continues_lets_later_steps_branch_on_its_error(publish, start, ledger):
    execution = run(start(publish(check_then_alert(ledger, failures=1))))

    assert execution.status == ExecutionStatus.SUCCEEDED
    assert [(r.step_id, r.status) for r in step_runs(execution.id)] == [
        ("check", "failed"), ("alert", "succeeded"), ("done", "succeeded")]
    assert ledger_counts(ledger) == {"check": 1, "alert: planned failure 1 of 1": 1}
    assert step_runs(execution.id)[-1].output == {"check": "failed"}


def test_a_step_that_continues_on_error_but_succeeds_takes_the_normal_branch(publish, start, ledger):
    execution = run(start(publish(check_then_alert(ledger, failures=0))))

    assert execution.status == ExecutionStatus.SUCCEEDED
    assert [(r.step_id, r.status) for r in step_runs(execution.id)] == [
        ("check", "succeeded"), ("alert", "skipped"), ("done", "succeeded")]


def test_retries_come_first_and_the_run_continues_after_the_last_one(publish, start, ledger):
    execution_id = start(publish(check_then_alert(ledger, failures=5, retryable=True, attempts=2)))

    assert run(execution_id).status == ExecutionStatus.WAITING
    fast_forward(execution_id)
    final = run(execution_id)

    assert final.status == ExecutionStatus.SUCCEEDED
    assert [(r.step_id, r.attempt, r.status) for r in step_runs(execution_id)] == [
        ("check", 1, "failed"), ("check", 2, "failed"), ("alert", 1, "succeeded"), ("done", 1, "succeeded")]


def test_a_run_resumed_after_continuing_does_not_repeat_the_failed_step(publish, start, ledger):
    definition = check_then_alert(ledger, failures=1)
    definition["steps"].insert(1, {"id": "pause", "uses": "core.delay", "with": {"for": "1h"}})
    execution_id = start(publish(definition))

    assert run(execution_id).status == ExecutionStatus.WAITING
    fast_forward(execution_id)
    assert run(execution_id).status == ExecutionStatus.SUCCEEDED

    assert ledger_counts(ledger) == {"check": 1, "alert: planned failure 1 of 1": 1}


@pytest.mark.parametrize(("step", "problem"), [
    ({"id": "a", "uses": "core.set", "continue_on_error": "yes"},
     Problem("steps[0].continue_on_error", "must be true or false")),
    ({"id": "loop", "uses": "core.for_each", "with": {"items": [1]},
      "steps": [{"id": "a", "uses": "core.set", "continue_on_error": True}]},
     Problem("steps[0].steps[0].continue_on_error", "not inside core.for_each: a failed item is reported in the "
                                                     "loop's output and fails the loop")),
])
def test_continue_on_error_is_validated(step, problem):
    assert problem in validate({"trigger": {"type": "manual"}, "steps": [step]})
