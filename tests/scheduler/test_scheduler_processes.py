"""Real ``relay scheduler`` processes against one Redis and one database: however many run, each fire
time of a schedule gets exactly one history row and at most one execution — also when the leader is
killed with SIGKILL and the standby takes over — and a leader stopped with SIGTERM hands over at once."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from automation.firing import idempotency_key, iso_utc
from automation.models import utcnow
from automation.schedules import next_fire_time
from tests.conftest import wait_for
from tests.scheduler.conftest import executions, fires, state_of

pytestmark = pytest.mark.storage

FAST = {"RELAY_LEADER_TTL": "2s", "RELAY_SCHEDULE_SYNC": "0.5s"}
TWO_SECONDS = timedelta(seconds=2)


def test_two_schedulers_fire_each_fire_time_exactly_once_across_a_sigkill_of_the_leader(scheduled, start_process):
    workflow = scheduled({"every": "2s"})
    first = start_process("scheduler", env=FAST)
    wait_for(lambda: "became leader" in first.output(), timeout=30, message=first.output())
    second = start_process("scheduler", env=FAST)
    wait_for(lambda: "standing by" in second.output(), timeout=30, message=second.output())

    time.sleep(9)
    first.kill()
    killed_at = utcnow()
    wait_for(lambda: "became leader" in second.output(), timeout=6,
             message=f"the standby did not take over:\n{second.output()}")
    time.sleep(9)
    second.stop()
    stopped_at = utcnow()

    rows = fires(workflow)
    state = state_of(workflow)
    watermark = state.watermark
    assert watermark > killed_at + timedelta(seconds=6), "the survivor stopped firing"
    assert watermark > stopped_at - timedelta(seconds=5)
    # Every fire time from publishing to the last one handled is covered by exactly one row ...
    fire_time = next_fire_time(state.schedule, workflow.updated_at)
    expected = []
    while fire_time <= watermark:
        expected.append(fire_time)
        fire_time += TWO_SECONDS
    covered = [row.covers_from + TWO_SECONDS * k for row in rows
               for k in range((row.scheduled_for - row.covers_from) // TWO_SECONDS + 1)]
    assert sorted(covered) == expected
    # ... all of them ran (the takeover gap is well inside the grace window), each row with its own run ...
    assert {row.status for row in rows} == {"fired"}
    runs = {execution.id: execution for execution in executions(workflow)}
    assert sorted(row.execution_id for row in rows) == sorted(runs)
    for row in rows:
        run = runs[row.execution_id]
        assert run.idempotency_key == idempotency_key(workflow.id, row.scheduled_for)
        assert run.trigger["scheduled_for"] == iso_utc(row.scheduled_for)
    # ... the leader fired before the kill and only the survivor after it.
    assert any(row.scheduled_for < killed_at for row in rows)
    before_takeover = second.output().split("became leader")[0]
    assert " fired " not in before_takeover
    assert " fired " in second.output()


def test_a_leader_stopped_with_sigterm_releases_the_lock_so_the_standby_takes_over_at_once(start_process):
    slow_expiry = {"RELAY_LEADER_TTL": "9s"}  # a standby tries every 3 s; an unreleased lock lasts 6 s or more
    first = start_process("scheduler", env=slow_expiry)
    wait_for(lambda: "became leader" in first.output(), timeout=30, message=first.output())
    second = start_process("scheduler", env=slow_expiry)
    wait_for(lambda: "standing by" in second.output(), timeout=30, message=second.output())

    stopping = time.monotonic()
    first.stop()
    wait_for(lambda: "became leader" in second.output(), timeout=15, message=second.output())

    assert time.monotonic() - stopping < 5
    assert first.popen.returncode == 0
    assert "released the leader lock" in first.output()
