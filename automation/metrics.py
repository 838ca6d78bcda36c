"""Prometheus metrics of every Relay process, summed over processes by prometheus-client's multiprocess mode.

Each process (gunicorn worker, ``relay worker`` and its work horses, ``relay scheduler``) writes its counters
and histograms to files of its own in one directory, PROMETHEUS_MULTIPROC_DIR, and ``/metrics`` adds them
up at scrape time (automation/web/metrics_view.py). prometheus-client picks multiprocess mode when it is
first imported, from the environment, so ``init`` sets the variable before importing it; the directory is
therefore chosen once per process, by the first app built in it:

- the setting when given: ``relay up`` clears it at start (``prepare_directory``); other supervisors must
  empty it before starting the processes (docs/operations.md);
- otherwise ``relay up`` makes a fresh temporary directory for its run and hands it to its children, and a
  process started on its own makes one for itself (its /metrics then shows that process only).

A process marks itself dead on exit (``multiprocess.mark_process_dead``); what it counted stays in the sums.
Labels are bounded: workflow ids, trigger kinds, statuses, registered action names and HTTP codes, never
free text. The queue depth is read from Redis at scrape time by a collector, not from the files.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
from flask import Flask

ENV = "PROMETHEUS_MULTIPROC_DIR"
TRIGGERS = frozenset({"manual", "webhook", "schedule"})
STEP_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

log = logging.getLogger(__name__)
_lock = threading.Lock()
_directory: str | None = None
_metrics: _Metrics | None = None


class _Metrics:
    """The process's metric objects; built after the multiprocess directory is set."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Histogram  # noqa: PLC0415 - only once the directory is set

        # registry=None: in multiprocess mode the scrape reads the files, never an in-process registry.
        self.started = Counter("relay_executions_started", "Executions started, by workflow id and trigger kind",
                               ["workflow", "trigger"], registry=None)
        self.finished = Counter("relay_executions_finished", "Executions that ended, by workflow id and status",
                                ["workflow", "status"], registry=None)
        self.step_duration = Histogram("relay_step_duration_seconds", "Time of one step attempt, by action",
                                       ["action"], buckets=STEP_BUCKETS, registry=None)
        self.webhook_requests = Counter("relay_webhook_requests", "Requests to /hooks, by response code",
                                        ["code"], registry=None)
        self.scheduler_fires = Counter("relay_scheduler_fires", "Schedule fire times that started a run",
                                       registry=None)
        self.scheduler_misses = Counter("relay_scheduler_misses",
                                        "Schedule fire times recorded as skipped (too late, or not runnable)",
                                        registry=None)


def init(app: Flask) -> str:
    """Choose this process's metrics directory (once per process) and put it in the app's config."""
    global _directory, _metrics
    with _lock:
        if _directory is None:
            _directory = app.config.get(ENV) or _temporary_directory()
            Path(_directory).mkdir(parents=True, exist_ok=True)
            os.environ[ENV] = _directory  # read by prometheus-client on import, and inherited by children
            from prometheus_client import values  # noqa: PLC0415

            if not getattr(values.ValueClass, "_multiprocess", False):
                log.warning("prometheus_client was imported before Relay set %s; /metrics shows this process "
                            "only", ENV)
            _metrics = _Metrics()
            atexit.register(_mark_dead, _directory)
        elif app.config.get(ENV) and app.config[ENV] != _directory:
            log.warning("this process already keeps its metrics in %s; ignoring %s=%s", _directory, ENV,
                        app.config[ENV])
        app.config[ENV] = _directory
    return _directory


def _temporary_directory() -> str:
    directory = tempfile.mkdtemp(prefix="relay-metrics-")
    creator = os.getpid()

    def remove() -> None:
        # Forked children (work horses) inherit this hook; only the process that made the directory removes it.
        if os.getpid() == creator:
            shutil.rmtree(directory, ignore_errors=True)

    atexit.register(remove)
    return directory


def _mark_dead(directory: str) -> None:
    from prometheus_client import multiprocess  # noqa: PLC0415

    multiprocess.mark_process_dead(os.getpid(), directory)


def prepare_directory(configured: str | None) -> tuple[str, bool]:
    """For a supervisor starting Relay's processes: the configured directory emptied of the metric files of
    processes that have ended, or a fresh temporary one. Returns the directory and whether the caller made it
    (and so removes it)."""
    if not configured:
        return tempfile.mkdtemp(prefix="relay-metrics-"), True
    path = Path(configured)
    path.mkdir(parents=True, exist_ok=True)
    # Only prometheus-client's files (<kind>_<pid>.db): the directory may hold other things. A live process's
    # files stay: removing them under it would make its counts vanish from every later scrape.
    for stale in path.glob("*_*.db"):
        pid = stale.stem.rsplit("_", 1)[1]
        if pid.isdigit() and not _alive(int(pid)):
            stale.unlink(missing_ok=True)
    return str(path), False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _active() -> _Metrics:
    if _metrics is None:
        raise RuntimeError("metrics.init(app) has not run in this process; create_app runs it")
    return _metrics


def execution_started(workflow_id: int, trigger: str) -> None:
    _active().started.labels(workflow=str(workflow_id), trigger=trigger if trigger in TRIGGERS else "other").inc()


def execution_finished(workflow_id: int, status: str) -> None:
    _active().finished.labels(workflow=str(workflow_id), status=status).inc()


@contextmanager
def timed_step(action: str) -> Iterator[None]:
    """Observe the block's duration for ``action`` (a registered action name), whether it raises or not."""
    started = time.perf_counter()
    try:
        yield
    finally:
        _active().step_duration.labels(action=action).observe(time.perf_counter() - started)


def webhook_request(code: int) -> None:
    _active().webhook_requests.labels(code=str(code)).inc()


def scheduler_fired() -> None:
    _active().scheduler_fires.inc()


def scheduler_missed(count: int = 1) -> None:
    _active().scheduler_misses.inc(count)


class QueueDepthCollector:
    """``relay_queue_depth``: jobs waiting on the app's RQ queue, read from Redis at each scrape."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily  # noqa: PLC0415

        from automation import dispatch  # noqa: PLC0415 - dispatch needs the app's context

        with self.app.app_context():
            name = self.app.config["RELAY_QUEUE"]
            try:
                depth = dispatch.queue().count
            except redis.RedisError as exc:
                # Left out of this scrape rather than reported as 0, which would read as "nothing waiting".
                log.warning("queue depth unavailable: cannot reach Redis (%s)", exc)
                return
        family = GaugeMetricFamily("relay_queue_depth", "Executions waiting on the queue for a worker",
                                   labels=["queue"])
        family.add_metric([name], depth)
        yield family


def exposition(app: Flask) -> tuple[bytes, str]:
    """The Prometheus text of every process's metrics plus the queue depth, and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest  # noqa: PLC0415
    from prometheus_client.multiprocess import MultiProcessCollector  # noqa: PLC0415

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=app.config[ENV])
    registry.register(QueueDepthCollector(app))  # type: ignore[arg-type]
    return generate_latest(registry), CONTENT_TYPE_LATEST
