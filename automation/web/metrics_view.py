"""``GET /metrics``: Prometheus text of every Relay process's metrics (automation/metrics.py).

Open by default, like Prometheus' own targets; with RELAY_METRICS_TOKEN set it needs
``Authorization: Bearer <token>``, compared in constant time, and answers 401 otherwise.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, current_app, request

from automation import metrics
from automation.web.errors import ApiError

metrics_view = Blueprint("metrics", __name__)


@metrics_view.get("/metrics")
def scrape() -> Response:
    expected = current_app.config.get("RELAY_METRICS_TOKEN")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if expected and not (scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected.encode())):
        raise ApiError(401, "/metrics needs 'Authorization: Bearer <RELAY_METRICS_TOKEN>'",
                       headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    body, content_type = metrics.exposition(current_app._get_current_object())  # type: ignore[attr-defined]
    return Response(body, content_type=content_type)
