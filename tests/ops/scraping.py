"""Reading ``GET /metrics`` the way Prometheus would: through prometheus-client's own text parser.

prometheus-client is imported only once an app exists: its first import fixes the process's metrics mode,
which automation/metrics.py sets when the app is created.
"""

from __future__ import annotations

from flask.testing import FlaskClient

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: FlaskClient, **headers: str) -> Samples:
    """``{(sample name, labels): value}`` of one scrape, which must succeed."""
    from prometheus_client.parser import text_string_to_metric_families  # noqa: PLC0415 - see the docstring

    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def grown(before: Samples, after: Samples, name: str, **labels: str) -> float:
    """How much a counter grew between two scrapes (metrics of earlier tests in this process stay in the sums)."""
    return value(after, name, **labels) - value(before, name, **labels)
