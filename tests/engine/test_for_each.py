"""core.for_each runs its nested steps once per item, records each item's attempts under the loop step, runs
items concurrently up to a bound, fails after all items ran when some failed, and continues (replay, retry,
crash, next job, cancel) from the rows without repeating finished items."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from automation import engine, for_each, ingest, reaper
from automation.definitions import validate
from automation.engine import run_execution
from automation.models import Execution, ExecutionEvent, ExecutionStatus, StepRun, StepStatus, db, utcnow
from tests.engine.conftest import fast_forward, ledger_counts, run, step_runs

pytestmark = pytest.mark.storage


def loop(nested: list[dict[str, Any]], *, items: Any = "{{ trigger.body.people }}", concurrency: Any = None,
         after: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    inputs: dict[str, Any] = {"items": items}
    if concurrency is not None:
        inputs["concurrency"] = concurrency
    return {"trigger": {"type": "manual"},
            "steps": [{"id": "remind", "uses": "core.for_each", "with": inputs, "steps": nested}, *(after or [])]}


def record(ledger, mark: str = "sms-{{ index }}", value: Any = None, **extra: Any) -> dict[str, Any]:
    inputs = {"ledger": str(ledger), "mark": mark} | ({} if value is None else {"value": value})
    return {"id": "sms", "uses": "test.record", "with": inputs, **extra}


def sleep(ledger, seconds: float) -> dict[str, Any]:
    return {"id": "nap", "uses": "test.sleep", "with": {"ledger": str(ledger), "mark": "nap-{{ index }}",
                                                          "seconds": seconds}}


def flaky(ledger, **extra: Any) -> dict[str, Any]:
    return {"id": "call", "uses": "test.flaky", "with": {"ledger": str(ledger), "mark": "call-{{ index }}",
                                                         "failures": "{{ item.fail }}", **extra}}


def loop_row(execution_id: int) -> StepRun:
    rows = [r for r in step_runs(execution_id) if r.step_id == "remind"]
    return rows[-1]


def item_rows(execution_id: int) -> list[StepRun]:
    return [r for r in step_runs(execution_id) if r.parent_step_id == "remind"]


PEOPLE = [{"name": "Ada"}, {"name": "Bob"}, {"name": "Cy"}]


def test_each_item_runs_the_nested_steps_with_item_and_index(publish, start, ledger):
    workflow = publish({"trigger": {"type": "manual"}, "steps": [
        {"id": "prep", "uses": "core.set", "with": {"greeting": "Hi"}},
        {"id": "remind", "uses": "core.for_each", "with": {"items": "{{ trigger.body.people }}"}, "steps": [
            record(ledger, value="{{ steps.prep.output.greeting }} {{ item.name }} (#{{ index + 1 }})"),
            {"id": "echo", "uses": "core.set", "with": {"text": "{{ steps.sms.output.value }}!"}},
        ]},
        {"id": "after", "uses": "core.set", "with": {
            "count": "{{ steps.remind.output.count }}",
            "last": "{{ steps.remind.output['items'][2].outputs.echo.text }}"}},
    ]})
    execution = run(start(workflow, {"people": PEOPLE}))

    assert (execution.status, execution.error) == (ExecutionStatus.SUCCEEDED, None)
    assert ledger_counts(ledger) == {"sms-0": 1, "sms-1": 1, "sms-2": 1}
    output = loop_row(execution.id).output
    assert {k: output[k] for k in ("count", "succeeded", "filtered", "failed")} == {
        "count": 3, "succeeded": 3, "filtered": 0, "failed": 0}
    assert [(i["index"], i["status"], i["outputs"]["echo"]["text"]) for i in output["items"]] == [
        (0, "succeeded", "Hi Ada (#1)!"), (1, "succeeded", "Hi Bob (#2)!"), (2, "succeeded", "Hi Cy (#3)!")]
    assert step_runs(execution.id)[-1].output == {"count": 3, "last": "Hi Cy (#3)!"}


def test_item_attempts_are_recorded_under_the_loop_step_with_their_index(publish, start, ledger):
    workflow = publish(loop([record(ledger), {"id": "echo", "uses": "core.set", "with": {"i": "{{ index }}"}}]))
    execution = run(start(workflow, {"people": PEOPLE}))

    parent = loop_row(execution.id)
    assert (parent.status, parent.parent_step_id, parent.item_index) == ("succeeded", None, None)
    assert parent.input == {"items": PEOPLE, "concurrency": 1}
    assert sorted((r.item_index, r.step_id, r.status, r.attempt) for r in item_rows(execution.id)) == [
        (0, "echo", "succeeded", 1), (0, "sms", "succeeded", 1), (1, "echo", "succeeded", 1),
        (1, "sms", "succeeded", 1), (2, "echo", "succeeded", 1), (2, "sms", "succeeded", 1)]
    assert all(r.parent_step_id == "remind" for r in item_rows(execution.id))


def _most_at_once(rows: list[StepRun]) -> int:
    spans = [(r.output["started"], r.output["finished"]) for r in rows if r.status == "succeeded"]
    return max(sum(1 for s, f in spans if s <= start < f) for start, _ in spans)


def test_concurrency_runs_that_many_items_at_the_same_time_and_no_more(publish, start, ledger):
    # The largest concurrency, more than the database pool's 15 connections: items must not hold one while
    # their action runs.
    workflow = publish(loop([sleep(ledger, 0.5)], concurrency=20))
    execution = run(start(workflow, {"people": [{}] * 24}))

    assert execution.status == ExecutionStatus.SUCCEEDED
    assert _most_at_once(item_rows(execution.id)) == 20
    assert ledger_counts(ledger) == {f"nap-{i}": 1 for i in range(24)}


def test_concurrency_one_runs_items_one_after_another_in_order(publish, start, ledger):
    workflow = publish(loop([sleep(ledger, 0.05)]))
    execution = run(start(workflow, {"people": [{}] * 4}))

    rows = sorted(item_rows(execution.id), key=lambda r: r.output["started"])
    assert [r.item_index for r in rows] == [0, 1, 2, 3]
    assert all(later.output["started"] >= earlier.output["finished"]
               for earlier, later in zip(rows, rows[1:], strict=False))


def test_a_failing_item_fails_the_step_after_the_others_ran_naming_it(publish, start, ledger):
    people = [{"fail": 1 if i in (3, 7) else 0} for i in range(10)]
    workflow = publish(loop([flaky(ledger, retryable=False)],
                            after=[{"id": "after", "uses": "test.record", "with": {"ledger": str(ledger),
                                                                                   "mark": "after"}}]))
    execution = run(start(workflow, {"people": people}))

    assert execution.status == ExecutionStatus.FAILED
    assert execution.error_step == "remind"
    assert execution.error == ("2 of 10 items failed: #3 (call): planned failure 1 of 1, "
                               "#7 (call): planned failure 1 of 1")
    assert ledger_counts(ledger) == {f"call-{i}": 1 for i in range(10)}
    parent = loop_row(execution.id)
    assert (parent.status, parent.output["succeeded"], parent.output["failed"]) == ("failed", 8, 2)
    assert parent.output["items"][3] == {"index": 3, "status": "failed", "outputs": {},
                                         "error": "call: planned failure 1 of 1"}


def test_replay_runs_only_the_failed_items_again(publish, start, ledger):
    people = [{"fail": 1 if i in (3, 7) else 0} for i in range(10)]
    workflow = publish(loop([flaky(ledger, retryable=False)]))
    execution_id = start(workflow, {"people": people})
    assert run(execution_id).status == ExecutionStatus.FAILED

    ingest.retry_execution(db.session.get(Execution, execution_id))
    final = run(execution_id)

    assert final.status == ExecutionStatus.SUCCEEDED
    assert ledger_counts(ledger) == {f"call-{i}": 2 if i in (3, 7) else 1 for i in range(10)}
    output = loop_row(execution_id).output
    assert (output["succeeded"], output["failed"]) == (10, 0)
    # Items that succeeded in the first round keep their outputs, read back from their rows.
    assert [item["outputs"]["call"]["calls"] for item in output["items"]] == [1, 1, 1, 2, 1, 1, 1, 2, 1, 1]


@pytest.mark.parametrize(("value", "kind"), [("ada", "text"), ({"a": 1}, "a mapping"), (3, "a number")])
def test_items_that_are_not_a_list_fail_the_step_clearly(publish, start, ledger, value, kind):
    workflow = publish(loop([record(ledger)]))
    execution = run(start(workflow, {"people": value}))

    assert execution.status == ExecutionStatus.FAILED
    assert execution.error == f"steps.remind.with.items: expected a list, got {kind}"
    assert ledger_counts(ledger) == {}


def test_an_empty_list_succeeds_with_no_items(publish, start, ledger):
    execution = run(start(publish(loop([record(ledger)])), {"people": []}))

    assert execution.status == ExecutionStatus.SUCCEEDED
    assert loop_row(execution.id).output == {"count": 0, "succeeded": 0, "filtered": 0, "failed": 0,
                                             "kept_outputs": "all", "items": []}


def test_too_many_items_or_a_bad_concurrency_fail_before_any_item_runs(publish, start, ledger):
    too_many = run(start(publish(loop([record(ledger)], items="{{ range(1001) | list }}"))))
    zero = run(start(publish(loop([record(ledger)], concurrency="{{ trigger.body.n }}")), {"people": [1], "n": 0}))

    assert too_many.error == ("steps.remind.with.items: 1001 items, more than the limit of 1000; "
                              "filter or split the list first")
    assert zero.error == "steps.remind.with.concurrency: must be a whole number from 1 to 20, got 0"
    assert ledger_counts(ledger) == {}


def test_nested_if_skips_a_step_and_a_false_filter_ends_that_item_quietly(publish, start, ledger):
    workflow = publish(loop([
        {"id": "big", "uses": "core.filter", "with": {"condition": "{{ item.n > 2 }}"}},
        record(ledger, mark="maybe-{{ index }}", **{"if": "{{ item.n < 8 }}"}),
        {"id": "last", "uses": "test.record", "with": {"ledger": str(ledger), "mark": "last-{{ index }}"}},
    ]))
    execution = run(start(workflow, {"people": [{"n": 1}, {"n": 5}, {"n": 10}]}))

    assert execution.status == ExecutionStatus.SUCCEEDED
    assert ledger_counts(ledger) == {"maybe-1": 1, "last-1": 1, "last-2": 1}
    output = loop_row(execution.id).output
    assert [i["status"] for i in output["items"]] == ["filtered", "succeeded", "succeeded"]
    assert (output["succeeded"], output["filtered"], output["failed"]) == (2, 1, 0)
    assert sorted((r.item_index, r.step_id, r.status) for r in item_rows(execution.id)) == [
        (0, "big", "succeeded"), (1, "big", "succeeded"), (1, "last", "succeeded"), (1, "sms", "succeeded"),
        (2, "big", "succeeded"), (2, "last", "succeeded"), (2, "sms", "skipped")]


def test_a_nested_retry_waits_without_holding_the_worker_then_runs_only_that_item(publish, start, ledger):
    workflow = publish(loop([flaky(ledger, retryable=True) | {"retry": {"attempts": 2, "backoff": "1h"}}]))
    execution_id = start(workflow, {"people": [{"fail": 0}, {"fail": 1}, {"fail": 0}]})

    parked = run(execution_id)
    assert parked.status == ExecutionStatus.WAITING
    assert ledger_counts(ledger) == {"call-0": 1, "call-1": 1, "call-2": 1}  # the others did not wait
    fast_forward(execution_id)
    final = run(execution_id)

    assert final.status == ExecutionStatus.SUCCEEDED
    assert ledger_counts(ledger) == {"call-0": 1, "call-1": 2, "call-2": 1}
    assert [(r.attempt, r.status) for r in item_rows(execution_id) if r.item_index == 1] == [
        (1, "failed"), (2, "succeeded")]
    assert [r.status for r in step_runs(execution_id) if r.step_id == "remind"] == ["succeeded"]


def test_a_resumed_run_after_a_crash_does_not_repeat_finished_items(publish, start, ledger, monkeypatch):
    workflow = publish(loop([record(ledger)]))
    execution_id = start(workflow, {"people": [{}] * 5})
    close = engine.Runner._close

    def dies_after_item_2_ran(self, step_run, status, **values):
        if self.item_index == 2 and status == StepStatus.SUCCEEDED:
            raise sa.exc.OperationalError("UPDATE step_runs", {}, Exception("server closed the connection"))
        return close(self, step_run, status, **values)

    monkeypatch.setattr(engine.Runner, "_close", dies_after_item_2_ran)
    with pytest.raises(sa.exc.OperationalError):
        run_execution(execution_id)
    monkeypatch.undo()
    db.session.execute(sa.update(Execution).where(Execution.id == execution_id)
                       .values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert reaper.reap().reclaimed == 1
    final = run(execution_id)

    assert final.status == ExecutionStatus.SUCCEEDED
    # Only the item in flight when the worker died runs again.
    assert ledger_counts(ledger) == {"sms-0": 1, "sms-1": 1, "sms-2": 2, "sms-3": 1, "sms-4": 1}
    assert [r.status for r in step_runs(execution_id) if r.step_id == "remind"] == ["interrupted", "succeeded"]
    assert [r.status for r in item_rows(execution_id) if r.item_index == 2] == ["interrupted", "succeeded"]


def test_a_long_loop_goes_on_in_a_new_job_without_repeating_items(ctx, publish, start, ledger):
    ctx.config["RELAY_JOB_TIMEOUT"] = 1.0  # the loop's share of a job is then half a second
    workflow = publish(loop([sleep(ledger, 0.3)]))
    execution_id = start(workflow, {"people": [{}] * 4})

    first = run(execution_id)
    assert first.status == ExecutionStatus.WAITING
    assert 1 <= sum(ledger_counts(ledger).values()) < 4
    for _ in range(4):
        if run(execution_id).status != ExecutionStatus.WAITING:
            break

    assert db.session.get(Execution, execution_id).status == ExecutionStatus.SUCCEEDED
    assert ledger_counts(ledger) == {f"nap-{i}": 1 for i in range(4)}
    assert [r.status for r in step_runs(execution_id) if r.step_id == "remind"] == ["succeeded"]


def test_a_cancelled_run_starts_no_new_items(app, publish, start, ledger):
    workflow = publish(loop([sleep(ledger, 0.3)]))
    execution_id = start(workflow, {"people": [{}] * 10})

    def cancel_after_the_first_item() -> None:
        with app.app_context():
            deadline = time.monotonic() + 20
            while not ledger.read_text() and time.monotonic() < deadline:
                time.sleep(0.01)
            ingest.cancel_execution(db.session.get(Execution, execution_id))

    canceller = threading.Thread(target=cancel_after_the_first_item)
    canceller.start()
    assert run_execution(execution_id) is None
    canceller.join()

    db.session.expire_all()
    assert db.session.get(Execution, execution_id).status == ExecutionStatus.CANCELLED
    cancelled_at = db.session.scalar(sa.select(ExecutionEvent.at).where(
        ExecutionEvent.execution_id == execution_id, ExecutionEvent.to_status == "cancelled"))
    assert all(r.started_at <= cancelled_at for r in item_rows(execution_id))
    assert sum(ledger_counts(ledger).values()) < 10


def test_the_summary_drops_outputs_to_stay_under_its_size_limit(monkeypatch):
    monkeypatch.setattr(for_each, "MAX_SUMMARY_CHARS", 600)
    states = [for_each.Item(i, for_each.ItemStatus.SUCCEEDED, {"fetch": {"body": "x" * 50}, "send": {"id": i}})
              for i in range(5)]

    assert for_each._summary(states, "send")["kept_outputs"] == "last step"
    assert for_each._summary(states, "send")["items"][4] == {"index": 4, "status": "succeeded",
                                                              "outputs": {"send": {"id": 4}}}
    monkeypatch.setattr(for_each, "MAX_SUMMARY_CHARS", 200)
    assert for_each._summary(states, "send")["kept_outputs"] == "none"


def _problems(definition: dict[str, Any]) -> list[str]:
    return [str(p) for p in validate(definition)]


def test_waiting_steps_and_nested_loops_are_refused_inside_a_loop():
    problems = _problems(loop([
        {"id": "pause", "uses": "core.delay", "with": {"for": "1h"}},
        {"id": "inner", "uses": "core.for_each", "with": {"items": [1]}, "steps": [
            {"id": "x", "uses": "core.set"}]},
    ]))

    assert ("steps[0].steps[0].uses: core.delay cannot run inside core.for_each: one item cannot wait while the "
            "others go on; put the wait before or after the loop") in problems
    assert ("steps[0].steps[1].uses: core.for_each cannot run inside core.for_each: loops do not nest; loop over "
            "one flattened list instead") in problems


def test_item_and_index_and_nested_steps_are_visible_only_inside_the_loop():
    definition = loop([{"id": "sms", "uses": "core.set", "with": {"to": "{{ item.phone }} {{ index }}"}}], after=[
        {"id": "after", "uses": "core.set", "with": {"x": "{{ item }}", "y": "{{ steps.sms.output }}",
                                                     "z": "{% for item in [1] %}{{ item }}{% endfor %}"}}])

    assert _problems(definition) == [
        "steps[1].with.x: 'item' exists only in the nested steps of a core.for_each",
        "steps[1].with.y: refers to step 'sms' inside core.for_each 'remind'; outside the loop read its results "
        "as steps.remind.output.items",
    ]


def test_a_loop_needs_nested_steps_and_has_no_retry_or_timeout_of_its_own():
    definition = {"trigger": {"type": "manual"}, "steps": [
        {"id": "remind", "uses": "core.for_each", "with": {"items": [1], "concurrency": 50},
         "retry": {"attempts": 3}, "timeout": "10s"}]}

    assert _problems(definition) == [
        "steps[0].with.concurrency: 50 is greater than the maximum of 20",
        "steps[0].retry: core.for_each has no retry of its own; give its nested steps one",
        "steps[0].timeout: core.for_each has no timeout of its own; give its nested steps one",
        "steps[0].steps: required: a list with at least one step",
    ]
