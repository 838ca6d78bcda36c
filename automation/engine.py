"""Runs one execution: claim it, then run its steps in order from the first unfinished one, committing
each finished step before the next starts, until it succeeds, fails, or parks (``waiting``).

A crash repeats at most the step in flight. Parking (``core.delay``, a retry's back-off) commits the
run as ``waiting`` with its wake-up time and asks RQ to wake it, so no worker is held while it waits.
``core.approval`` parks with no wake-up time: the decision enqueues the run (automation/approvals.py).
``core.for_each`` runs its items with Runners in item mode (automation/for_each.py, docs/loops.md).
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from flask import current_app

from automation import approvals, connections, dispatch, for_each, logs, metrics
from automation.actions import call_action, jsonable
from automation.definitions import Definition, DefinitionError, Step, parse
from automation.durations import DurationError, parse_duration
from automation.expressions import ExpressionError, Renderer
from automation.leases import Heartbeat, LeaseLost, claim, fence, interrupt_running_steps
from automation.models import Execution, ExecutionStatus, StepRun, StepStatus, Workflow, db, utcnow
from automation.redaction import Redactor
from automation.transitions import change_status
from integrations.base import CallContext, ConnectorError
from integrations.outbound import OutboundPolicy
from integrations.registry import find_action

log = logging.getLogger(__name__)

# A step whose worker dies this many times is failed rather than tried forever (it may be what kills it).
MAX_INTERRUPTIONS = 3
DONE = frozenset({StepStatus.SUCCEEDED.value, StepStatus.SKIPPED.value})


class StepFailed(Exception):
    def __init__(self, message: str, *, retryable: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message, self.retryable, self.retry_after = message, retryable, retry_after


@dataclass
class Park:
    """The run must wait until ``until`` before the step can go on; None waits for an approval decision."""

    until: datetime | None
    reason: str


@lru_cache(maxsize=4)
def renderer(timeout: float, max_chars: int) -> Renderer:
    """One renderer per process and settings, so compiled expressions are reused across runs."""
    return Renderer(timeout=timeout, max_chars=max_chars)


def run_execution(execution_id: int) -> str | None:
    """Entry point of the RQ job. Returns the status the run was left in, or None if it was not ours."""
    config = current_app.config
    lease = float(config["RELAY_LEASE"])
    worker = f"{socket.gethostname()}:{os.getpid()}"
    token = claim(db.session, execution_id, lease, worker)
    if token is None:
        return None
    execution = db.session.get(Execution, execution_id)
    assert execution is not None
    with Heartbeat(db.engine, execution_id, token, lease), logs.for_execution(execution):
        log.info("execution %s: running workflow %s (round %s)", execution_id, execution.workflow_id, execution.round)
        try:
            return Runner(execution, token, lease).run()
        except LeaseLost:
            log.info("execution %s: lease lost (cancelled or reclaimed); stopping", execution_id)
            return None
        except sa.exc.DBAPIError:
            # The database went away: leave the run claimed; when the lease lapses the reaper resumes it.
            db.session.rollback()
            raise
        except Exception as exc:
            # A bug, not the workflow's fault: fail the run with a reference instead of retrying forever.
            log.exception("execution %s: internal error", execution_id)
            db.session.rollback()
            return Runner(execution, token, lease).fail_internal(exc)


def _failed(error: str | None) -> dict[str, Any]:
    """What later steps see of a step that failed with ``continue_on_error``."""
    return {"status": StepStatus.FAILED.value, "output": None, "error": error}


class Runner:
    """One worker's turn at one execution, holding the fencing ``token``."""

    def __init__(self, execution: Execution, token: str, lease: float) -> None:
        config = current_app.config
        self.execution = execution
        self.token = token
        self.lease = lease
        self.step_timeout = float(config["RELAY_STEP_TIMEOUT"])
        self.max_response_bytes = int(config["RELAY_MAX_RESPONSE_BYTES"])
        self.policy = OutboundPolicy.parse(config["RELAY_ALLOWED_HOSTS"])
        self.renderer = renderer(float(config["RELAY_EXPRESSION_TIMEOUT"]), int(config["RELAY_EXPRESSION_MAX_CHARS"]))
        # Set when this Runner runs one item of a core.for_each (automation/for_each.py): its rows carry them.
        self.parent_step_id: str | None = None
        self.item_index: int | None = None
        self.runs: dict[str, list[StepRun]] = {}
        for step_run in db.session.scalars(
            sa.select(StepRun).where(StepRun.execution_id == execution.id, StepRun.parent_step_id.is_(None))
            .order_by(StepRun.id)
        ):
            self.runs.setdefault(step_run.step_id, []).append(step_run)

    # -- the loop ------------------------------------------------------------------------------------

    def run(self) -> str:
        if interrupt_running_steps(
            db.session, self.execution.id, "the worker stopped while this step was running; trying it again"
        ):
            self._commit()
            db.session.expire_all()
        try:
            definition = parse(self.execution.version.definition)
        except DefinitionError as exc:
            return self._fail(f"the workflow definition is not valid: {exc}", None)
        context = self._context()
        for index, step in enumerate(definition.steps):
            history = self.runs.get(step.id, [])
            if history and history[-1].status in DONE:
                context["steps"][step.id] = {"status": history[-1].status, "output": history[-1].output}
                continue
            if history and step.continue_on_error and self._gave_up(step, history[-1]):
                context["steps"][step.id] = _failed(history[-1].error)
                continue
            try:
                with logs.bound(step=step.id):
                    outcome = self._run_step(step, history, context)
            except StepFailed as exc:
                if step.continue_on_error and not self._will_retry(step, exc.retryable):
                    context["steps"][step.id] = _failed(exc.message)
                    continue
                return self._after_failure(step, exc)
            if isinstance(outcome, Park):
                return self._park(outcome)
            if outcome is None:
                context["steps"][step.id] = {"status": StepStatus.SKIPPED.value, "output": None}
                continue
            context["steps"][step.id] = {"status": StepStatus.SUCCEEDED.value, "output": outcome}
            if step.uses == "core.filter" and not outcome.get("passed"):
                self._skip_rest(definition, index, f"skipped: filter '{step.id}' stopped the run")
                return self._succeed(f"filter '{step.id}' stopped the run")
        return self._succeed(None)

    def _run_step(
        self, step: Step, history: list[StepRun], context: dict[str, Any]
    ) -> dict[str, Any] | Park | None:
        """Run one attempt of ``step``: its output, a Park, or None when its ``if`` skipped it."""
        if step.uses == "core.for_each":
            return for_each.run(self, step, history, context)  # keeps its own row, items and parking
        waiting = history[-1] if history and history[-1].status == StepStatus.WAITING.value else None
        if waiting is not None:
            return self._finish_approval(waiting) if waiting.action == "core.approval" else self._finish_wait(waiting)
        interruptions = sum(
            1 for r in history if r.status == StepStatus.INTERRUPTED.value and r.round == self.execution.round
        )
        if interruptions >= MAX_INTERRUPTIONS:
            raise StepFailed(f"the worker stopped {interruptions} times while running this step; giving up")
        location = f"steps.{step.id}"
        try:
            if step.if_ is not None and not self.renderer.condition(step.if_, context, f"{location}.if"):
                self._record(step, StepStatus.SKIPPED, attempt=len(history) + 1, input=None, output=None)
                return None
            if step.uses == "core.filter":
                inputs = {"condition": self.renderer.condition(
                    step.with_.get("condition"), context, f"{location}.with.condition")}
            else:
                inputs = jsonable(self.renderer.render(dict(step.with_), context, f"{location}.with"))
            connection_ref = (
                self.renderer.render(step.connection, context, f"{location}.connection") if step.connection else None
            )
        except ExpressionError as exc:
            self._record(step, StepStatus.FAILED, attempt=len(history) + 1, input=None, error=str(exc),
                         retryable=False)
            raise StepFailed(str(exc)) from exc
        if step.uses == "core.delay":
            return self._start_wait(step, history, inputs)
        if step.uses == "core.approval":
            return self._start_approval(step, history, inputs)
        return self._call(step, history, inputs, connection_ref)

    def _call(self, step: Step, history: list[StepRun], inputs: dict[str, Any],
              connection_ref: Any) -> dict[str, Any]:
        """One attempt of a connector action. What is stored (input, output, error) has the connection's
        secrets redacted, and so does the output later steps see."""
        found = find_action(step.uses)
        connection = None
        redactor = Redactor()
        try:
            if found is None:
                raise ConnectorError(f"unknown action {step.uses!r}")
            if found[0].connection_type is not None and not connection_ref:
                raise ConnectorError(f"{step.uses} needs a {found[0].connection_type} connection; name one in "
                                     "the step's 'connection'")
            if connection_ref is not None:
                connection = connections.load_for_step(
                    self.execution.workspace_id, connection_ref, found[0].connection_type, step.uses)
                redactor = connection.redactor
        except ConnectorError as exc:
            self._record(step, StepStatus.FAILED, attempt=len(history) + 1, input=inputs, error=exc.message,
                         retryable=False)
            raise StepFailed(exc.message) from exc
        attempt = self._record(step, StepStatus.RUNNING, attempt=len(history) + 1, input=redactor.redact(inputs))
        timeout = step.timeout.total_seconds() if step.timeout else self.step_timeout
        context = CallContext(execution_id=self.execution.id, step_id=step.id, attempt=attempt.attempt,
                              timeout=timeout, max_response_bytes=self.max_response_bytes,
                              item_index=self.item_index)
        try:
            with metrics.timed_step(step.uses):
                output = call_action(step.uses, inputs, connection.for_action() if connection else None, context,
                                     self.policy)
        except ConnectorError as exc:
            message = redactor.text(exc.message)
            self._close(attempt, StepStatus.FAILED, error=message, retryable=exc.retryable)
            raise StepFailed(message, retryable=exc.retryable, retry_after=exc.retry_after) from exc
        output = redactor.redact(output)
        self._close(attempt, StepStatus.SUCCEEDED, output=output)
        return output

    # -- core.delay ----------------------------------------------------------------------------------

    def _start_wait(self, step: Step, history: list[StepRun], inputs: dict[str, Any]) -> dict[str, Any] | Park:
        now = utcnow()
        try:
            if "for" in inputs:
                until = now + parse_duration(inputs["for"])
            else:
                until = datetime.fromisoformat(str(inputs["until"]))
                if until.tzinfo is None:
                    raise ValueError("the time needs a UTC offset, e.g. 2026-01-31T09:00:00+01:00")
        except (DurationError, ValueError, KeyError) as exc:
            self._record(step, StepStatus.FAILED, attempt=len(history) + 1, input=inputs, error=str(exc))
            raise StepFailed(f"steps.{step.id}.with: {exc}") from exc
        step_run = self._record(step, StepStatus.WAITING, attempt=len(history) + 1, input=inputs, resume_at=until)
        if until <= now:
            return self._finish_wait(step_run)
        return Park(until, f"waiting in '{step.id}' until {until.isoformat()}")

    def _finish_wait(self, step_run: StepRun) -> dict[str, Any] | Park:
        assert step_run.resume_at is not None
        if step_run.resume_at > utcnow():
            return Park(step_run.resume_at, f"waiting in '{step_run.step_id}' until {step_run.resume_at.isoformat()}")
        output = {"waited_until": step_run.resume_at.isoformat()}
        self._close(step_run, StepStatus.SUCCEEDED, output=output)
        return output

    # -- core.approval -------------------------------------------------------------------------------

    def _start_approval(self, step: Step, history: list[StepRun], inputs: dict[str, Any]) -> dict[str, Any] | Park:
        try:
            approvals.open_task(self.execution, step.id, inputs)
        except approvals.ApprovalInvalid as exc:
            self._record(step, StepStatus.FAILED, attempt=len(history) + 1, input=inputs, error=str(exc))
            raise StepFailed(f"steps.{step.id}.with.{exc}") from exc
        # Commits the task with the waiting attempt; a decision can only take it once the run is parked.
        return self._finish_approval(
            self._record(step, StepStatus.WAITING, attempt=len(history) + 1, input=inputs))

    def _finish_approval(self, step_run: StepRun) -> dict[str, Any] | Park:
        try:
            output = approvals.outcome(self.execution.id, step_run.step_id)
        except approvals.ApprovalInvalid as exc:
            self._close(step_run, StepStatus.FAILED, error=exc.problem, retryable=False)
            raise StepFailed(f"steps.{step_run.step_id}: {exc.problem}") from exc
        if output is None:
            return Park(None, f"waiting in '{step_run.step_id}' for an approval decision")
        self._close(step_run, StepStatus.SUCCEEDED, output=output)
        return output

    # -- bookkeeping ---------------------------------------------------------------------------------

    def _context(self) -> dict[str, Any]:
        execution = self.execution
        workflow = db.session.get(Workflow, execution.workflow_id)
        return {
            "params": dict(execution.version.params or {}),
            "trigger": dict(execution.trigger or {}),
            "steps": {},
            "execution": {
                "id": execution.id,
                "started_at": execution.started_at,
                "correlation_id": execution.correlation_id,
                "trigger_kind": execution.trigger_kind,
            },
            "workflow": {"id": execution.workflow_id, "name": workflow.name if workflow else ""},
            "now": utcnow(),
        }

    def _record(self, step: Step, status: StepStatus, *, attempt: int, input: Any, output: Any = None,
                error: str | None = None, retryable: bool | None = None,
                resume_at: datetime | None = None) -> StepRun:
        finished = status not in (StepStatus.RUNNING, StepStatus.WAITING)
        now = utcnow()
        step_run = StepRun(
            workspace_id=self.execution.workspace_id, execution_id=self.execution.id, step_id=step.id,
            action=step.uses, status=status.value, attempt=attempt, round=self.execution.round, input=input,
            output=output, error=error, retryable=retryable, started_at=now,
            finished_at=now if finished else None, resume_at=resume_at,
            parent_step_id=self.parent_step_id, item_index=self.item_index,
        )
        db.session.add(step_run)
        self._commit()
        self.runs.setdefault(step.id, []).append(step_run)
        return step_run

    def _close(self, step_run: StepRun, status: StepStatus, *, output: Any = None, error: str | None = None,
               retryable: bool | None = None) -> None:
        step_run.status = status.value
        step_run.output = output
        step_run.error = error
        step_run.retryable = retryable
        step_run.finished_at = utcnow()
        self._commit()

    def _commit(self) -> None:
        fence(db.session, self.execution.id, self.token, self.lease)
        db.session.commit()

    def _skip_rest(self, definition: Definition, index: int, reason: str) -> None:
        for later in definition.steps[index + 1:]:
            if not self.runs.get(later.id) or self.runs[later.id][-1].status not in DONE:
                db.session.add(StepRun(
                    workspace_id=self.execution.workspace_id, execution_id=self.execution.id, step_id=later.id,
                    action=later.uses, status=StepStatus.SKIPPED.value, attempt=1, round=self.execution.round,
                    error=None, output={"reason": reason}, finished_at=utcnow(),
                ))
        self._commit()

    # -- endings -------------------------------------------------------------------------------------

    def _failed_attempts(self, step: Step) -> int:
        return sum(
            1 for r in self.runs.get(step.id, [])
            if r.round == self.execution.round and r.status == StepStatus.FAILED.value
        )

    def _will_retry(self, step: Step, retryable: bool | None) -> bool:
        return bool(retryable) and self._failed_attempts(step) < step.retry.attempts

    def _gave_up(self, step: Step, last: StepRun) -> bool:
        """Whether ``last`` is a failure of this round that no retry will follow (continue_on_error moves on)."""
        return (last.status == StepStatus.FAILED.value and last.round == self.execution.round
                and not self._will_retry(step, last.retryable))

    def _after_failure(self, step: Step, exc: StepFailed) -> str:
        failed = self._failed_attempts(step)
        if self._will_retry(step, exc.retryable):
            delay = step.retry.delay(failed)
            if exc.retry_after is not None:
                delay = max(delay, timedelta(seconds=exc.retry_after))
            return self._park(Park(utcnow() + delay, f"retrying '{step.id}' (attempt {failed + 1} of "
                                                     f"{step.retry.attempts}) after: {exc.message}"))
        return self._fail(exc.message, step.id)

    def _park(self, park: Park) -> str:
        self._transition(ExecutionStatus.WAITING, park.reason, wake_at=park.until, run_token=None,
                         lease_expires_at=None)
        if park.until is not None:
            dispatch.enqueue_at(self.execution.id, park.until)
        return ExecutionStatus.WAITING.value

    def _succeed(self, reason: str | None) -> str:
        self._transition(ExecutionStatus.SUCCEEDED, reason, finished_at=utcnow(), run_token=None,
                         lease_expires_at=None)
        log.info("execution %s succeeded", self.execution.id)
        return ExecutionStatus.SUCCEEDED.value

    def fail_internal(self, exc: Exception) -> str:
        return self._fail(f"Relay hit an internal error ({type(exc).__name__}); the details are in the worker log",
                          None)

    def _fail(self, error: str, step_id: str | None) -> str:
        self._transition(ExecutionStatus.FAILED, error, error=error, error_step=step_id, finished_at=utcnow(),
                         run_token=None, lease_expires_at=None)
        log.info("execution %s failed at %s: %s", self.execution.id, step_id, error)
        return ExecutionStatus.FAILED.value

    def _transition(self, new: ExecutionStatus, reason: str | None, **values: Any) -> None:
        if not change_status(
            db.session, self.execution, ExecutionStatus.RUNNING, new, reason=reason,
            conditions=(Execution.run_token == self.token,), **values,
        ):
            db.session.rollback()
            raise LeaseLost(f"execution {self.execution.id} is no longer held by this worker")
        db.session.commit()
        if new.finished:
            metrics.execution_finished(self.execution.workflow_id, new.value)
