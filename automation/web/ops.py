"""Operator endpoints: ``/health`` (the process is up; no I/O) and ``/ready`` (the readiness checks of
automation/readiness.py: 200 when every one passes, 503 naming the failing ones). Neither needs a token
and neither shows a secret."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from automation.readiness import run_checks

ops = Blueprint("ops", __name__)


@ops.get("/health")
def health():  # type: ignore[no-untyped-def]
    return jsonify(status="ok")


@ops.get("/ready")
def ready() -> tuple[Response, int]:
    results = run_checks(current_app._get_current_object())  # type: ignore[attr-defined]
    failing = [result.name for result in results if not result.ok]
    body: dict[str, object] = {"status": "not ready" if failing else "ready",
                               "checks": {result.name: result.as_dict() for result in results}}
    if failing:
        body["failing"] = failing
    response = jsonify(body)
    # A probe must see the answer of now, never a cached one.
    response.headers["Cache-Control"] = "no-store"
    return response, 503 if failing else 200
