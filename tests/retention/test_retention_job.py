"""Who runs retention: the scheduler's leader once a day (and when it becomes leader), and
`relay retention run [--dry-run]` from the shell, printing what it removed."""

from __future__ import annotations

import pytest

from automation import retention
from automation.models import Execution
from tests.integration.conftest import run_relay
from tests.retention.conftest import FRESH, OLD, remaining

pytestmark = pytest.mark.storage


def test_the_leader_schedules_retention_daily_starting_now(make_process):
    process = make_process()

    process.tick()

    job = process.clock.get_job("retention")
    assert job is not None
    assert job.trigger.interval == retention.INTERVAL


def test_the_leaders_retention_pass_removes_expired_runs(make_process, make_workflow, make_run):
    workflow = make_workflow()
    make_run(workflow, "succeeded", OLD)
    fresh = make_run(workflow, "succeeded", FRESH)
    process = make_process()
    process.tick()

    process.retention_pass()

    assert remaining(Execution) == {fresh}


def test_a_standby_scheduler_does_not_run_retention(make_process, make_workflow, make_run):
    expired = make_run(make_workflow(), "succeeded", OLD)
    leader, standby = make_process(), make_process()
    leader.tick()
    standby.tick()

    standby.retention_pass()

    assert remaining(Execution) == {expired}


def test_relay_retention_run_dry_run_prints_what_would_go_and_removes_nothing(process_env, make_workflow, make_run):
    workflow = make_workflow()
    runs = {make_run(workflow, "succeeded", OLD), make_run(workflow, "succeeded", FRESH)}

    result = run_relay("retention", "run", "--dry-run", env=process_env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("would remove 1 finished run(s)")
    assert remaining(Execution) == runs


def test_relay_retention_run_prints_what_it_removed(process_env, make_workflow, make_run):
    workflow = make_workflow()
    make_run(workflow, "failed", OLD)
    make_run(workflow, "cancelled", OLD)
    fresh = make_run(workflow, "succeeded", FRESH)

    result = run_relay("retention", "run", env=process_env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ("removed 2 finished run(s) with their steps, history and approval tasks in "
                                     "1 batch, 0 schedule fire(s) and 0 audit entries")
    assert remaining(Execution) == {fresh}
