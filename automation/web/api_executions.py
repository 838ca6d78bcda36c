"""REST API v1, executions: list (filtered, paginated), read with steps and events, retry, cancel."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from flask import Response, jsonify, request

from automation import ingest
from automation.models import Execution, ExecutionStatus, Workflow, db
from automation.scoping import get_or_404, scoped
from automation.web.api import api
from automation.web.correlation import MAX_LENGTH, usable
from automation.web.errors import ApiError
from automation.web.request_input import int_arg, page_args
from automation.web.serializers import execution_json, execution_summary


@api.get("/executions")
def list_executions() -> Response:
    query = scoped(Execution)
    workflow_id = int_arg("workflow_id")
    if workflow_id is not None:
        get_or_404(Workflow, workflow_id, "workflow")
        query = query.where(Execution.workflow_id == workflow_id)
    status = request.args.get("status")
    if status:
        if status not in {s.value for s in ExecutionStatus}:
            choices = ", ".join(s.value for s in ExecutionStatus)
            raise ApiError(400, f"query parameter 'status' must be one of {choices}", details={"parameter": "status"})
        query = query.where(Execution.status == status)
    correlation_id = request.args.get("correlation_id")
    if correlation_id is not None:
        if not usable(correlation_id) or correlation_id != correlation_id.strip():
            raise ApiError(400, f"query parameter 'correlation_id' must be 1 to {MAX_LENGTH} printable ASCII "
                                "characters without spaces", details={"parameter": "correlation_id"})
        query = query.where(Execution.correlation_id == correlation_id)
    page, per_page = page_args()
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(query.order_by(Execution.id.desc()).limit(per_page).offset((page - 1) * per_page))
    return jsonify(items=[execution_summary(e) for e in rows], page=page, per_page=per_page, total=total,
                   next=page + 1 if page * per_page < total else None)


@api.get("/executions/<execution_id>")
def get_execution(execution_id: str) -> Response:
    return jsonify(execution_json(get_or_404(Execution, execution_id, "execution")))


@api.post("/executions/<execution_id>/retry")
def retry_execution(execution_id: str) -> tuple[Response, int]:
    return _change(execution_id, ingest.retry_execution), 202


@api.post("/executions/<execution_id>/cancel")
def cancel_execution(execution_id: str) -> Response:
    return _change(execution_id, ingest.cancel_execution)


def _change(execution_id: str, change: Callable[[Execution], Execution]) -> Response:
    execution = get_or_404(Execution, execution_id, "execution")
    try:
        change(execution)
    except ingest.NotRunnable as exc:
        raise ApiError(409, str(exc)) from None
    return jsonify(execution_summary(execution))
