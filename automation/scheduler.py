"""The ``relay scheduler`` process: leader election, and APScheduler as the leader's clock.

Every scheduler process tries for the leader lock (automation/leader.py) every third of its expiry
(RELAY_LEADER_TTL). The one that holds it runs four kinds of job; the others only wait:

- ``sync`` every RELAY_SCHEDULE_SYNC: schedule states follow the workflows (automation/firing.py), and
  one fire job per schedule is added, rescheduled or removed to match;
- one fire job per schedule, woken by ``ScheduleTrigger`` at each fire time, which hands the work to
  ``firing.fire_due`` — that reads what is due from the database, so a late, repeated or concurrent run
  is harmless;
- the reaper every RELAY_REAPER_INTERVAL;
- the approval pass (escalations, notices, reminders; automation/approval_sla.py) every
  ``approval_sla.PASS_INTERVAL`` seconds;
- retention (automation/retention.py) once a day, starting when it becomes leader.

Losing the lock removes every job at once, and fire jobs stop on their own once the lock may have
expired, so a leader cut off from Redis stops before a standby can take over. SIGTERM and SIGINT stop
the jobs and release the lock, so a standby takes over at its next attempt instead of after the expiry.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from types import FrameType

import redis
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger
from flask import Flask

from automation import approval_sla, logs, retention
from automation.firing import ScheduleSync, SyncResult, fire_due
from automation.leader import LeaderLock, beat, heartbeat_key, lock_key
from automation.reaper import reap
from automation.schedules import Schedule, describe, next_fire_time

log = logging.getLogger(__name__)

# The heartbeat outlives a leader's death long enough for a standby to take over and beat again.
HEARTBEAT_TTLS = 3


class ScheduleTrigger(BaseTrigger):
    """Wakes a fire job at the schedule's next fire time after now.

    It never lists the fire times missed while the process was busy or asleep (APScheduler would walk
    every one of them): the job reads what is due from the database instead.
    """

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime:
        after = now if previous_fire_time is None else max(previous_fire_time, now)
        return next_fire_time(self.schedule, after)

    def __str__(self) -> str:
        return describe(self.schedule)


def fire_job_id(workflow_id: int) -> str:
    return f"schedule-{workflow_id}"


class SchedulerProcess:
    """Leadership, and the jobs only the leader runs on ``clock``."""

    def __init__(self, app: Flask, lock: LeaderLock, clock: BaseScheduler) -> None:
        self.app = app
        self.lock = lock
        self.clock = clock
        self.ttl = float(app.config["RELAY_LEADER_TTL"])
        self.leading = False
        self._lock_valid_until = 0.0
        self._sync = ScheduleSync()
        self._jobs: dict[int, Schedule] = {}
        # Leadership changes (main thread) and sync passes (a pool thread) both add and remove jobs.
        self._guard = threading.Lock()

    def run(self, stop: threading.Event) -> None:
        """Try for the lock every third of its expiry until ``stop`` is set; then stop and release it."""
        self.clock.start()
        try:
            self.tick()
            if not self.leading:
                log.info("scheduler %s: standing by (leader: %s)", self.lock.token, self._holder())
            while not stop.wait(self.ttl / 3):
                self.tick()
        finally:
            if self.leading:
                self._step_down("stopping")
            self.clock.shutdown(wait=True)
            try:
                if self.lock.release():
                    log.info("scheduler %s: released the leader lock", self.lock.token)
            except redis.RedisError as exc:
                log.warning("scheduler %s: could not release the leader lock (%s); it expires by itself",
                            self.lock.token, exc)

    def tick(self) -> None:
        """Take or keep the lock, and start or stop leading to match."""
        started = time.monotonic()
        try:
            held = self.lock.renew() if self.leading else self.lock.acquire()
            if held:
                self._lock_valid_until = started + self.ttl
                beat(self.lock.client, heartbeat_key(self.app.config["RELAY_QUEUE"]), self.lock.token,
                     self.ttl * HEARTBEAT_TTLS)
        except redis.RedisError as exc:
            if self.leading:
                log.warning("scheduler %s: Redis unavailable (%s)", self.lock.token, exc)
            held = False
        if held and not self.leading:
            self._lead()
        elif not held and self.leading:
            self._step_down("lost the leader lock")

    def holds_lock(self) -> bool:
        """Leading, and the lock cannot have expired since the last renewal started."""
        return self.leading and time.monotonic() < self._lock_valid_until

    def sync_pass(self) -> None:
        """Bring the schedule states and this process's fire jobs in line with the workflows."""
        if not self.holds_lock():
            return
        with self.app.app_context():
            try:
                result = self._sync.run(slack=timedelta(seconds=max(1.0, self._sync_interval())))
            except Exception:  # a database outage: the next pass tries again
                log.exception("schedule sync failed")
                return
        self._apply(result)

    def fire(self, workflow_id: int) -> None:
        if not self.holds_lock():
            return
        with self.app.app_context():
            try:
                fire_due(workflow_id)
            except Exception:  # a database outage: the fire time stays due and the next sync pass retries
                log.exception("workflow %s: fire failed", workflow_id)

    def reap(self) -> None:
        if not self.holds_lock():
            return
        with self.app.app_context():
            try:
                reap()
            except Exception:  # a database or Redis outage: log it and try again next interval
                log.exception("reaper pass failed")

    def approval_pass(self) -> None:
        if not self.holds_lock():
            return
        with self.app.app_context():
            try:
                approval_sla.run_pass()
            except Exception:  # a database outage: what is due stays due for the next pass
                log.exception("approval pass failed")

    def retention_pass(self) -> None:
        if not self.holds_lock():
            return
        with self.app.app_context():
            try:
                retention.run()
            except Exception:  # a database outage: what is expired stays expired for tomorrow's pass
                log.exception("retention pass failed")

    def _lead(self) -> None:
        now = datetime.now(UTC)
        with self._guard:
            self.leading = True
            self.clock.add_job(self.sync_pass, "interval", seconds=self._sync_interval(), id="sync",
                               next_run_time=now)
            self.clock.add_job(self.reap, "interval", seconds=float(self.app.config["RELAY_REAPER_INTERVAL"]),
                               id="reaper", next_run_time=now)
            self.clock.add_job(self.approval_pass, "interval", seconds=approval_sla.PASS_INTERVAL, id="approvals",
                               next_run_time=now)
            # At once too: a leader restarted more often than daily (each deploy) would otherwise never run it.
            self.clock.add_job(self.retention_pass, "interval", seconds=retention.INTERVAL.total_seconds(),
                               id="retention", next_run_time=now)
        log.info("scheduler %s: became leader", self.lock.token)

    def _step_down(self, reason: str) -> None:
        with self._guard:
            self.leading = False
            self.clock.remove_all_jobs()
            self._jobs.clear()
        log.info("scheduler %s: stopped leading (%s)", self.lock.token, reason)

    def _apply(self, result: SyncResult) -> None:
        now = datetime.now(UTC)
        with self._guard:
            if not self.leading:
                return
            for workflow_id in self._jobs.keys() - result.schedules.keys():
                self.clock.remove_job(fire_job_id(workflow_id))
                del self._jobs[workflow_id]
            for workflow_id, schedule in result.schedules.items():
                job_id = fire_job_id(workflow_id)
                known = self._jobs.get(workflow_id)
                if known is None:
                    # First look at this schedule in this process: catch up on anything due at once.
                    self.clock.add_job(self.fire, ScheduleTrigger(schedule), args=(workflow_id,), id=job_id,
                                       next_run_time=now)
                else:
                    if known != schedule:
                        self.clock.reschedule_job(job_id, trigger=ScheduleTrigger(schedule))
                    if workflow_id in result.overdue:
                        self.clock.modify_job(job_id, next_run_time=now)
                self._jobs[workflow_id] = schedule

    def _sync_interval(self) -> float:
        return float(self.app.config["RELAY_SCHEDULE_SYNC"])

    def _holder(self) -> str | None:
        try:
            return self.lock.holder()
        except redis.RedisError:
            return None


def build_process(app: Flask, clock: BaseScheduler | None = None) -> SchedulerProcess:
    ttl = float(app.config["RELAY_LEADER_TTL"])
    # Its own connection with short timeouts: a renewal stuck on a slow Redis must not outlast the lock.
    client = redis.Redis.from_url(app.config["REDIS_URL"], socket_connect_timeout=max(0.5, ttl / 3),
                                  socket_timeout=max(0.5, ttl / 3))
    lock = LeaderLock(client, lock_key(app.config["RELAY_QUEUE"]), ttl)
    clock = clock or BackgroundScheduler(
        timezone=UTC,
        # Jobs decide from the database what is due, so a late run is right and one run covers many.
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )
    return SchedulerProcess(app, lock, clock)


def run_scheduler(app: Flask) -> None:
    """Run until SIGTERM or SIGINT."""
    logs.configure(app.config)
    # APScheduler logs every job run at INFO; the jobs log what they did themselves.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    process = build_process(app)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("scheduler %s: stopping (%s)", process.lock.token, signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("scheduler %s: started; leader lock expiry %ss, schedules synced every %ss, reaper every %ss",
             process.lock.token, app.config["RELAY_LEADER_TTL"], app.config["RELAY_SCHEDULE_SYNC"],
             app.config["RELAY_REAPER_INTERVAL"])
    process.run(stop)
