"""The ``relay scheduler`` process: APScheduler running the reaper on an interval.

It only enqueues; it never runs steps. Schedule triggers and the leader lock arrive with the triggers
work; until then several schedulers are safe to run because the reaper's changes are compare-and-sets.
"""

from __future__ import annotations

import logging
import signal
from datetime import UTC, datetime
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from automation.reaper import reap

log = logging.getLogger(__name__)


def build_scheduler(app: Flask) -> BlockingScheduler:
    scheduler = BlockingScheduler(
        timezone="UTC",
        # A late reaper pass is still useful; never run two at once and never catch up missed passes.
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
    )

    def reap_in_context() -> None:
        with app.app_context():
            try:
                reap()
            except Exception:  # a database or Redis outage: log it and try again next interval
                log.exception("reaper pass failed")

    scheduler.add_job(
        reap_in_context, "interval", seconds=float(app.config["RELAY_REAPER_INTERVAL"]), id="reaper",
        next_run_time=datetime.now(UTC),
    )
    return scheduler


def run_scheduler(app: Flask) -> None:
    """Run until SIGTERM or SIGINT."""
    logging.basicConfig(level=app.config["LOG_LEVEL"], format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    scheduler = build_scheduler(app)

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("scheduler stopping (%s)", signal.Signals(signum).name)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("scheduler started; reaper every %ss", app.config["RELAY_REAPER_INTERVAL"])
    scheduler.start()
