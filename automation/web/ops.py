"""Operator endpoints: ``/health`` (the process is up; no I/O)."""

from __future__ import annotations

from flask import Blueprint, jsonify

ops = Blueprint("ops", __name__)


@ops.get("/health")
def health():  # type: ignore[no-untyped-def]
    return jsonify(status="ok")
