"""Incoming webhooks: ``GET|POST /hooks/<token>`` starts a run of the workflow whose published trigger is
a webhook (docs/webhooks.md). No session and no API token: the unguessable token is the address, and the
trigger's ``verify`` option proves the sender.

Order of checks, each answered with the API's JSON error shape: rate limit (429, before anything touches
the database) → the token names a published webhook workflow (404) → not paused (409) → verification
(401; 503 when the secret cannot be had) → the body can be read and stored (400/413/415) → de-duplication
by delivery id (200 with the first run) → the run is committed and enqueued → the answer of the response
mode: 202 at once, or in ``wait`` mode 200 with the step's output, 204 when the run did not produce it,
502 when the run failed, 202 when it takes longer than the wait.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, jsonify, request
from flask_limiter import RateLimitExceeded

from automation import hook_options, hook_verification, hook_wait, ingest, metrics
from automation.hook_options import HookOptions
from automation.models import Workflow, WorkflowStatus, WorkflowVersion, db
from automation.web import hook_input, rate_limits
from automation.web.errors import ApiError, error_response

hooks = Blueprint("hooks", __name__, url_prefix="/hooks")
log = logging.getLogger(__name__)

EXECUTION_HEADER = "X-Relay-Execution-Id"
NOT_FOUND = "no webhook at this address: the link is wrong or was regenerated, or the workflow is not published " \
            "with a webhook trigger"


@hooks.route("/<token>", methods=["GET", "POST"])
def receive(token: str) -> Response:
    workflow, version = _published_webhook(token)
    options = _options(workflow, version)
    if request.method == "HEAD":  # a sender checking that the address exists; starts nothing
        return Response(status=200)
    raw = request.get_data(cache=True)
    if options.verify is not None:
        _verify(options.verify, workflow, version, raw)
    secret_headers = options.verify.signature_headers() if options.verify else frozenset()
    payload = hook_input.payload(request, raw, secret_headers)
    try:
        execution, created = ingest.start_execution(
            workflow, trigger_kind="webhook", payload=payload,
            idempotency_key=hook_input.delivery_key(request, options.dedupe_headers),
        )
    except ingest.NotRunnable as exc:  # paused or changed since the checks above
        raise ApiError(409, str(exc)) from None
    if not created:
        return _answer(200, execution.id, {"execution_id": execution.id, "status": execution.status,
                                           "duplicate": True})
    if options.response.mode == "wait" and options.response.step:
        return _wait(execution.id, options.response)
    return _answer(202, execution.id, {"execution_id": execution.id, "status": execution.status})


def _published_webhook(token: str) -> tuple[Workflow, WorkflowVersion]:
    workflow = None
    if rate_limits.HOOK_TOKEN.match(token):
        workflow = db.session.scalar(sa.select(Workflow).where(Workflow.hook_token == token))
    published = workflow.current_version_id if workflow else None
    version = db.session.get(WorkflowVersion, published) if published is not None else None
    definition = version.definition if version else None
    trigger = definition.get("trigger") if isinstance(definition, Mapping) else None
    if workflow is None or version is None or not isinstance(trigger, Mapping) or trigger.get("type") != "webhook":
        raise ApiError(404, NOT_FOUND)
    if workflow.status == WorkflowStatus.PAUSED.value:
        raise ApiError(409, "this workflow is paused, so its webhook accepts nothing; resume it to receive "
                            "requests again")
    return workflow, version


def _options(workflow: Workflow, version: WorkflowVersion) -> HookOptions:
    definition = version.definition
    try:
        return hook_options.read(definition["trigger"], hook_options.top_step_ids(definition.get("steps")))
    except hook_options.OptionsInvalid as exc:
        log.warning("workflow %s: webhook options of the published version are invalid: %s", workflow.id, exc)
        raise ApiError(503, f"this webhook's settings are invalid ({exc}); publish a corrected version",
                       code="hook_misconfigured") from None


def _verify(verify: hook_options.Verify, workflow: Workflow, version: WorkflowVersion, raw: bytes) -> None:
    try:
        hook_verification.verify(verify, workspace_id=workflow.workspace_id, params=version.params or {},
                                 raw=raw, headers=request.headers)
    except hook_verification.VerificationFailed as exc:
        raise ApiError(401, f"request refused: {exc.message}", code=exc.reason) from None
    except hook_verification.VerifierUnusable as exc:
        log.warning("workflow %s: webhook verification unusable: %s", workflow.id, exc)
        raise ApiError(503, f"this webhook cannot verify requests: {exc}", code="hook_misconfigured") from None


def _wait(execution_id: int, response: hook_options.Response) -> Response:
    limit = float(current_app.config["RELAY_HOOK_MAX_WAIT"])
    timeout = min(response.timeout.total_seconds(), limit) if response.timeout else limit
    result = hook_wait.wait_for_step(execution_id, response.step or "", timeout)
    if result.outcome is hook_wait.Outcome.OUTPUT:
        return _answer(200, execution_id, result.output)
    if result.outcome is hook_wait.Outcome.NOT_RUN:
        return _answer(204, execution_id, None)
    if result.outcome is hook_wait.Outcome.FAILED:
        where = f" at step {result.error_step!r}" if result.error_step else ""
        raise ApiError(502, f"the run {result.status}{where}: {result.error or 'no error recorded'}",
                       code="run_failed", headers={EXECUTION_HEADER: str(execution_id)},
                       details={"execution_id": execution_id, "status": result.status,
                                "error_step": result.error_step, "error": result.error})
    return _answer(202, execution_id, {"execution_id": execution_id, "status": result.status})


def _answer(status: int, execution_id: int, body: Any) -> Response:
    response = Response(status=204) if status == 204 else jsonify(body)
    response.status_code = status
    response.headers[EXECUTION_HEADER] = str(execution_id)
    return response


@hooks.after_request
def count_request(response: Response) -> Response:
    metrics.webhook_request(response.status_code)
    return response


@hooks.errorhandler(RateLimitExceeded)
def rate_limited(exc: RateLimitExceeded) -> Response:
    seconds = rate_limits.retry_after()
    return error_response(429, f"too many requests to this webhook (at most {exc.description}); retry in "
                               f"{seconds}s", headers={"Retry-After": str(seconds)})
