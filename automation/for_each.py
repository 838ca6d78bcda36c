"""``core.for_each``: run a step's nested steps once per item of a list, up to ``concurrency`` items at once.

The engine hands a for_each step to ``run``. Items run in threads of the worker job; each thread pushes its
own app context (so it has its own database session) and drives an ``engine.Runner`` in item mode, whose
StepRun rows carry ``parent_step_id`` and ``item_index`` and whose every commit is fenced by the run token.
Each nested attempt is committed as it happens, so whatever stops the loop (a crash, a cancel, the job's
time share running out, a failure and its replay) continues from those rows: an item whose nested steps
all finished is never run again.

The for_each step's own StepRun stores the items as rendered the first time, and every later turn (next
job, resume after a crash, replay) reuses them, so an index always means the same item. A nested step's
retry does not hold a thread: that item waits while the others go on, and when nothing else can run the
loop parks the whole run until the earliest retry is due. docs/loops.md describes the semantics.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app

from automation import engine
from automation.actions import jsonable
from automation.core_actions import FOR_EACH_MAX_CONCURRENCY, FOR_EACH_MAX_ITEMS
from automation.definitions import Step
from automation.expressions import ExpressionError, Renderer
from automation.leases import LeaseLost
from automation.models import Execution, StepRun, StepStatus, db, utcnow

# A loop hands the run over to a new worker job once it has used this share of RELAY_JOB_TIMEOUT, so a
# long loop never meets RQ's hard job limit: the items in flight finish, the rest go on in the next job.
SLICE_SHARE = 0.5
# The summary is stored as the step's output and shown in the run view: past this size it keeps only each
# item's last nested output, then only statuses. Every output stays on the item's own StepRun rows.
MAX_SUMMARY_CHARS = 200_000
NAMED_FAILURES = 5  # how many failed items the step's error names
MAX_ERROR_CHARS = 300  # of each failed item's error, in the step's error and the summary


class ItemStatus(StrEnum):
    READY = "ready"  # has nested steps to run now
    PENDING = "pending"  # a nested step waits for its retry (``due``)
    SUCCEEDED = "succeeded"
    FILTERED = "filtered"  # a core.filter among its steps was false: the item ended quietly
    FAILED = "failed"


@dataclass
class Item:
    index: int
    status: ItemStatus
    outputs: dict[str, Any] = field(default_factory=dict)  # nested step id -> output, for steps that succeeded
    error: str | None = None
    failed_step: str | None = None
    due: datetime | None = None


@dataclass
class _Progress:
    """How far an item got, read from its rows: what its context holds and the first step left to run."""

    outputs: dict[str, Any] = field(default_factory=dict)
    seen: dict[str, dict[str, Any]] = field(default_factory=dict)
    filtered: bool = False
    next: Step | None = None


def run(
    runner: engine.Runner, step: Step, history: list[StepRun], context: dict[str, Any]
) -> dict[str, Any] | engine.Park | None:
    """One turn of the loop ``step`` (``history``: its own StepRuns, every round).

    Returns:
        The summary when every item has finished, a Park when retries are due later or the job's time share
        is spent, None when the step's ``if`` skipped it.

    Raises:
        engine.StepFailed: the inputs are wrong, or items failed (raised after all the others ran).
        LeaseLost: the run was cancelled or taken over; no item starts after a thread has seen it.
    """
    return _Loop(runner, step, context).run(history)


class _Loop:
    def __init__(self, runner: engine.Runner, step: Step, context: dict[str, Any]) -> None:
        self.runner = runner
        self.step = step
        self.context = context
        self.execution_id = runner.execution.id
        self.round = runner.execution.round
        self.app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        self.lock = threading.Lock()

    def run(self, history: list[StepRun]) -> dict[str, Any] | engine.Park | None:
        parent = self._open(history)
        if parent is None:
            return None
        assert parent.input is not None
        items: list[Any] = list(parent.input["items"])
        concurrency = int(parent.input["concurrency"])
        states = self._load(len(items))
        db.session.commit()  # ends the read: the job's own session holds no connection while items run
        deadline = time.monotonic() + float(current_app.config["RELAY_JOB_TIMEOUT"]) * SLICE_SHARE
        while ready := _ready(states):
            if time.monotonic() >= deadline:
                done = sum(1 for s in states if s.status not in (ItemStatus.READY, ItemStatus.PENDING))
                return self._park(parent, utcnow(), f"'{self.step.id}' goes on in a new job "
                                                     f"({done} of {len(states)} items finished)")
            for item in self._pass(ready, items, concurrency, deadline):
                states[item.index] = item
        dues = [s.due for s in states if s.status == ItemStatus.PENDING and s.due is not None]
        if dues:
            return self._park(parent, min(dues), f"'{self.step.id}' waits until {min(dues).isoformat()} to retry "
                                                 f"{len(dues)} item(s)")
        return self._finish(parent, states)

    # -- the step's own row ------------------------------------------------------------------------------

    def _open(self, history: list[StepRun]) -> StepRun | None:
        """The running StepRun of this turn: the parked one taken up again, or a new attempt."""
        last = history[-1] if history else None
        if last is not None and last.status == StepStatus.WAITING.value and last.round == self.round:
            last.status, last.resume_at = StepStatus.RUNNING.value, None
            self.runner._commit()
            return last
        attempt = len(history) + 1
        location = f"steps.{self.step.id}"
        # A loop that already started (earlier turn, round or crashed attempt) keeps its items and is not
        # decided again by its ``if``.
        inputs = next((r.input for r in reversed(history) if r.input), None)
        try:
            if inputs is None:
                condition = self.step.if_
                if condition is not None and not self.runner.renderer.condition(condition, self.context,
                                                                                 f"{location}.if"):
                    self.runner._record(self.step, StepStatus.SKIPPED, attempt=attempt, input=None)
                    return None
                inputs = self._inputs(location)
        except ExpressionError as exc:
            self.runner._record(self.step, StepStatus.FAILED, attempt=attempt, input=None, error=str(exc),
                                retryable=False)
            raise engine.StepFailed(str(exc)) from exc
        return self.runner._record(self.step, StepStatus.RUNNING, attempt=attempt, input=inputs)

    def _inputs(self, location: str) -> dict[str, Any]:
        renderer = self.runner.renderer
        items = renderer.render(self.step.with_.get("items"), self.context, f"{location}.with.items")
        if not isinstance(items, list | tuple):
            raise ExpressionError(f"{location}.with.items", f"expected a list, got {_kind(items)}")
        if len(items) > FOR_EACH_MAX_ITEMS:
            raise ExpressionError(f"{location}.with.items", f"{len(items)} items, more than the limit of "
                                                            f"{FOR_EACH_MAX_ITEMS}; filter or split the list first")
        concurrency = renderer.render(self.step.with_.get("concurrency", 1), self.context,
                                      f"{location}.with.concurrency")
        if isinstance(concurrency, str) and concurrency.strip().isdigit():
            concurrency = int(concurrency)
        if not isinstance(concurrency, int) or isinstance(concurrency, bool) or not (
            1 <= concurrency <= FOR_EACH_MAX_CONCURRENCY
        ):
            raise ExpressionError(f"{location}.with.concurrency", f"must be a whole number from 1 to "
                                                                  f"{FOR_EACH_MAX_CONCURRENCY}, got {concurrency!r}")
        return {"items": jsonable(list(items)), "concurrency": concurrency}

    def _park(self, parent: StepRun, until: datetime, reason: str) -> engine.Park:
        parent.status, parent.resume_at = StepStatus.WAITING.value, until
        self.runner._commit()
        return engine.Park(until, reason)

    def _finish(self, parent: StepRun, states: list[Item]) -> dict[str, Any]:
        summary = _summary(states, self.step.steps[-1].id)
        failed = [s for s in states if s.status == ItemStatus.FAILED]
        if not failed:
            self.runner._close(parent, StepStatus.SUCCEEDED, output=summary)
            return summary
        named = ", ".join(f"#{s.index} ({s.failed_step}): {_short(s.error)}" for s in failed[:NAMED_FAILURES])
        more = f", and {len(failed) - NAMED_FAILURES} more" if len(failed) > NAMED_FAILURES else ""
        message = f"{len(failed)} of {len(states)} items failed: {named}{more}"
        self.runner._close(parent, StepStatus.FAILED, output=summary, error=message, retryable=False)
        raise engine.StepFailed(message)

    # -- items ---------------------------------------------------------------------------------------------

    def _rows(self, index: int | None = None) -> dict[int, dict[str, list[StepRun]]]:
        """The loop's nested StepRuns (of one item, or all), by item and nested step, oldest first."""
        query = sa.select(StepRun).where(StepRun.execution_id == self.execution_id,
                                         StepRun.parent_step_id == self.step.id)
        if index is not None:
            query = query.where(StepRun.item_index == index)
        rows: dict[int, dict[str, list[StepRun]]] = {}
        for row in db.session.scalars(query.order_by(StepRun.id)):
            if row.item_index is not None:
                rows.setdefault(row.item_index, {}).setdefault(row.step_id, []).append(row)
        return rows

    def _load(self, count: int) -> list[Item]:
        rows = self._rows()
        return [self._state(index, rows.get(index, {})) for index in range(count)]

    def _state(self, index: int, rows: dict[str, list[StepRun]]) -> Item:
        """Where one item stands according to its rows, when a turn begins."""
        progress = _progress(self.step.steps, rows)
        if progress.filtered:
            return Item(index, ItemStatus.FILTERED, progress.outputs)
        if progress.next is None:
            return Item(index, ItemStatus.SUCCEEDED, progress.outputs)
        history = rows.get(progress.next.id, [])
        last = history[-1] if history else None
        if last is None or last.status != StepStatus.FAILED.value or last.round != self.round:
            return Item(index, ItemStatus.READY, progress.outputs)  # not started, interrupted, or replayed
        if last.retryable and _failures(history, self.round) < progress.next.retry.attempts:
            return Item(index, ItemStatus.PENDING, progress.outputs, last.error, progress.next.id,
                        last.resume_at or utcnow())
        return Item(index, ItemStatus.FAILED, progress.outputs, last.error, progress.next.id)

    def _pass(self, ready: list[int], items: list[Any], concurrency: int, deadline: float) -> list[Item]:
        """Run the ``ready`` items, ``concurrency`` at a time, until all ran, the deadline passed (no new item
        starts; those in flight finish) or a thread hit an error (then it is raised here)."""
        todo = iter(ready)
        stop = threading.Event()
        results: list[Item] = []
        errors: list[Exception] = []

        def next_index() -> int | None:
            with self.lock:
                if stop.is_set() or time.monotonic() >= deadline:
                    return None
                return next(todo, None)

        def work() -> None:
            with self.app.app_context():
                runner: engine.Runner | None = None
                while (index := next_index()) is not None:
                    try:
                        runner = runner or self._item_runner()
                        result = self._run_item(runner, index, items[index])
                    except Exception as exc:  # noqa: BLE001 - LeaseLost, a database error or a bug: stop the loop
                        with self.lock:
                            errors.append(exc)
                        stop.set()
                        return
                    with self.lock:
                        results.append(result)

        threads = [threading.Thread(target=work, name=f"for_each-{self.step.id}-{n}", daemon=True)
                   for n in range(min(concurrency, len(ready)))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            # A cancel or takeover is the answer to give the engine; other errors are its to report.
            raise next((e for e in errors if isinstance(e, LeaseLost)), errors[0])
        return results

    def _item_runner(self) -> engine.Runner:
        """A Runner for this thread, bound to the thread's own session (pushed app context)."""
        # Keep the thread's rows loaded after each commit: reading an expired attribute while an action runs
        # (the attempt number for its call) would hold a pooled connection for the whole call, and the pool
        # would then cap the concurrency. Nothing else writes these rows while the run is ours.
        db.session().expire_on_commit = False
        execution = db.session.get(Execution, self.execution_id)
        assert execution is not None
        runner = engine.Runner(execution, self.runner.token, self.runner.lease)
        # The engine's renderer is shared by the process and keeps its time limit on itself while it renders;
        # threads rendering at once need one each.
        config = current_app.config
        runner.renderer = Renderer(timeout=float(config["RELAY_EXPRESSION_TIMEOUT"]),
                                   max_chars=int(config["RELAY_EXPRESSION_MAX_CHARS"]))
        return runner

    def _run_item(self, runner: engine.Runner, index: int, item: Any) -> Item:
        """Run one item's nested steps from its first unfinished one (in a pool thread)."""
        rows = self._rows(index).get(index, {})
        progress = _progress(self.step.steps, rows)
        outputs = dict(progress.outputs)
        context = {**self.context, "steps": {**self.context["steps"], **progress.seen}, "item": item,
                   "index": index}
        runner.parent_step_id, runner.item_index, runner.runs = self.step.id, index, {}
        remaining = self.step.steps[self.step.steps.index(progress.next):] if progress.next else ()
        for nested in remaining:
            history = rows.get(nested.id, [])
            failed_before = _failures(history, self.round)
            try:
                outcome = runner._run_step(nested, history, context)
            except engine.StepFailed as exc:
                return self._failure(runner, index, nested, failed_before + 1, exc, outputs)
            if isinstance(outcome, engine.Park):
                raise RuntimeError(f"{nested.uses} parked inside core.for_each; validation should refuse it")
            if outcome is None:
                context["steps"][nested.id] = {"status": StepStatus.SKIPPED.value, "output": None}
                continue
            context["steps"][nested.id] = {"status": StepStatus.SUCCEEDED.value, "output": outcome}
            outputs[nested.id] = outcome
            if nested.uses == "core.filter" and not outcome.get("passed"):
                return Item(index, ItemStatus.FILTERED, outputs)
        return Item(index, ItemStatus.FILTERED if progress.filtered else ItemStatus.SUCCEEDED, outputs)

    def _failure(self, runner: engine.Runner, index: int, nested: Step, failed: int, exc: engine.StepFailed,
                 outputs: dict[str, Any]) -> Item:
        """A nested step failed: the item waits for the step's retry, or has failed."""
        if exc.retryable and failed < nested.retry.attempts:
            delay = nested.retry.delay(failed)
            if exc.retry_after is not None:
                delay = max(delay, timedelta(seconds=exc.retry_after))
            due = utcnow() + delay
            # Stored on the failed attempt, so the next turn (another job) knows when to try it again.
            attempts = runner.runs.get(nested.id)
            if attempts:
                attempts[-1].resume_at = due
                runner._commit()
            return Item(index, ItemStatus.PENDING, outputs, exc.message, nested.id, due)
        return Item(index, ItemStatus.FAILED, outputs, exc.message, nested.id)


def _progress(steps: tuple[Step, ...], rows: Mapping[str, list[StepRun]]) -> _Progress:
    progress = _Progress()
    for nested in steps:
        history = rows.get(nested.id, [])
        if not history or history[-1].status not in engine.DONE:
            progress.next = nested
            return progress
        last = history[-1]
        progress.seen[nested.id] = {"status": last.status, "output": last.output}
        if last.status == StepStatus.SUCCEEDED.value:
            progress.outputs[nested.id] = last.output
            if nested.uses == "core.filter" and not (last.output or {}).get("passed"):
                progress.filtered = True
                return progress
    return progress


def _failures(history: list[StepRun], round_: int) -> int:
    return sum(1 for r in history if r.round == round_ and r.status == StepStatus.FAILED.value)


def _ready(states: list[Item]) -> list[int]:
    now = utcnow()
    return [s.index for s in states if s.status == ItemStatus.READY
            or (s.status == ItemStatus.PENDING and s.due is not None and s.due <= now)]


def _summary(states: list[Item], last_step: str) -> dict[str, Any]:
    """The step's output: counts and, per item, its status, outputs (and error), kept under the size limit."""
    entries: list[dict[str, Any]] = []
    for state in states:
        entry: dict[str, Any] = {"index": state.index, "status": state.status.value, "outputs": state.outputs}
        if state.status == ItemStatus.FAILED:
            entry["error"] = f"{state.failed_step}: {_short(state.error)}"
        entries.append(entry)
    summary: dict[str, Any] = {
        "count": len(states),
        **{status.value: sum(1 for s in states if s.status == status)
           for status in (ItemStatus.SUCCEEDED, ItemStatus.FILTERED, ItemStatus.FAILED)},
        "kept_outputs": "all",
        "items": entries,
    }
    if _size(summary) > MAX_SUMMARY_CHARS:
        summary["kept_outputs"] = "last step"
        for entry in entries:
            entry["outputs"] = {k: v for k, v in entry["outputs"].items() if k == last_step}
    if _size(summary) > MAX_SUMMARY_CHARS:
        summary["kept_outputs"] = "none"
        for entry in entries:
            entry["outputs"] = {}
    return summary


def _size(value: Any) -> int:
    return len(json.dumps(value, default=str))


def _short(text: str | None) -> str:
    text = text or "failed"
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, str):
        return "text"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, int | float):
        return "a number"
    return type(value).__name__
