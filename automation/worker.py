"""The ``relay worker`` process: an RQ worker (with RQ's scheduler, for delayed wake-ups and back-offs)
on the app's queue, and the job function it runs — one job per execution slice, not per step."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from types import FrameType

import redis
from flask import Flask
from rq import SimpleWorker, Worker, worker_registration

from automation import dispatch, logs
from automation.engine import run_execution
from automation.redis_client import get_redis
from automation.workflow_checks import log_workflow_health

log = logging.getLogger(__name__)

_app: Flask | None = None
RESTART_PAUSE = 1.0
MAX_RESTART_PAUSE = 30.0


class _RemembersStop:
    """Records a stop signal, so a return from ``work()`` can be told apart from RQ giving up on Redis."""

    stop_asked = False

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stop_asked = True
        super().request_stop(signum, frame)  # type: ignore[misc]

    def stop_before_loop(self, signum: int, frame: FrameType | None) -> None:
        """The handler until RQ installs its own: RQ logs "Listening on" and starts its scheduler first, and a
        SIGTERM in that gap would otherwise kill the worker with the default action."""
        self.stop_asked = True

    def heartbeat(self, timeout: int | None = None, pipeline: redis.client.Pipeline | None = None) -> None:
        super().heartbeat(timeout, pipeline)  # type: ignore[misc]
        # RQ registers a worker once, at birth: after Redis lost its data (a restart without persistence) a
        # worker that goes on working would stay invisible to /ready and the dashboard. Register it again.
        if pipeline is None and not self.connection.sismember(self.redis_workers_keys, self.key):  # type: ignore[attr-defined]
            self.connection.hset(self.key, mapping=self.serialize())  # type: ignore[attr-defined]
            worker_registration.register(self)  # type: ignore[arg-type]
            log.warning("worker %s: its registration was gone from Redis; registered again", self.name)  # type: ignore[attr-defined]

    def unsubscribe(self) -> None:
        # RQ unsubscribes before it stops its listener thread: a thread that reads the unsubscribe reply first
        # goes back to a 60 s read, and stopping then waits it out. Clearing the thread's flag first lets the
        # reply end it at once.
        if self.pubsub_thread:  # type: ignore[attr-defined]
            self.pubsub_thread.stop(timeout=0)  # type: ignore[attr-defined]
        super().unsubscribe()  # type: ignore[misc]

    def _install_signal_handlers(self) -> None:
        super()._install_signal_handlers()  # type: ignore[misc]
        if self.stop_asked:
            self._stop_requested = True  # RQ's loop checks this before its first dequeue


class RelayWorker(_RemembersStop, Worker):
    """RQ's forking worker (a work horse per job)."""


class RelaySimpleWorker(_RemembersStop, SimpleWorker):
    """RQ's in-process worker."""


def run_worker(app: Flask, *, burst: bool = False) -> bool:
    """Work the queue until stopped (or, with ``burst``, until it is empty). Returns whether jobs ran.

    The default forking ``Worker`` is deliberate: each job runs in a fresh work horse, so a step that
    leaks memory or abandons a timed-out thread cannot build up in the worker, and a crash costs one job.
    ``RELAY_WORKER_CLASS=simple`` runs jobs in the worker process itself: 3-5x the throughput (see
    docs/performance.md), still with RQ's hard job timeout (SIGALRM), but without that isolation.
    """
    global _app
    _app = app
    logs.configure(app.config)  # a root handler: RQ then logs through it instead of adding its own
    log_workflow_health(app, "worker")
    worker_class = RelaySimpleWorker if app.config["RELAY_WORKER_CLASS"] == "simple" else RelayWorker
    pause = RESTART_PAUSE
    while True:
        with app.app_context():
            worker = worker_class(
                [dispatch.queue()], connection=get_redis(app), name=f"relay-{socket.gethostname()}-{os.getpid()}"
            )
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, worker.stop_before_loop)
            try:
                worked = worker.work(burst=burst, with_scheduler=True, logging_level=app.config["LOG_LEVEL"])
                # RQ returns from work() both when asked to stop and when Redis failed under it.
                if burst or worker.stop_asked:
                    return worked
                log.warning("worker stopped after a Redis error; starting again in %.0fs", pause)
            except redis.RedisError as exc:
                log.warning("cannot reach Redis (%s); trying again in %.0fs", exc, pause)
        if _sleep_unless_stopped(pause):
            return False
        pause = min(pause * 2, MAX_RESTART_PAUSE)


def _sleep_unless_stopped(seconds: float) -> bool:
    """Wait between restarts; True when SIGTERM or SIGINT arrived meanwhile."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return stop.wait(seconds)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_execution_job(execution_id: int) -> str | None:
    """What RQ calls: run the execution inside an app context (the worker's app, preloaded before fork)."""
    app = _app
    if app is None:
        from app import create_app  # noqa: PLC0415 - only when RQ runs this outside `relay worker`

        app = create_app()
    with app.app_context():
        return run_execution(execution_id)
