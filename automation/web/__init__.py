"""Flask blueprints: ops (health), api (REST v1)."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from automation.web.ops import ops  # noqa: PLC0415

    app.register_blueprint(ops)
