"""Retention removes exactly the finished runs older than their workflow keeps them, with their step runs,
status history and approval tasks, and nothing else; in batches; plus old schedule fires and audit
entries. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from automation import retention
from automation.models import AuditLog, Execution, ScheduleFire
from tests.retention.conftest import FRESH, OLD, children_of, remaining

pytestmark = pytest.mark.storage


def test_exactly_the_expired_runs_go_with_their_children_and_nothing_else(make_workflow, make_run):
    default = make_workflow()
    keeps_long, keeps_short = make_workflow(retention_days=90), make_workflow(retention_days=3)
    expired = {make_run(default, "succeeded", OLD), make_run(default, "failed", OLD),
               make_run(default, "cancelled", OLD), make_run(keeps_short, "succeeded", FRESH)}
    kept = {make_run(default, "succeeded", FRESH), make_run(default, "queued", OLD),
            make_run(default, "running", OLD), make_run(default, "waiting", OLD),
            make_run(keeps_long, "succeeded", OLD), make_run(keeps_short, "succeeded", 1)}

    report = retention.run()

    assert report.executions == len(expired)
    assert remaining(Execution) == kept
    assert children_of(expired) == {"step_runs": 0, "execution_events": 0, "approval_tasks": 0}
    assert children_of(kept) == {"step_runs": len(kept), "execution_events": 2 * len(kept),
                                 "approval_tasks": len(kept)}


def test_a_run_just_inside_its_retention_stays(make_workflow, make_run):
    inside = make_run(make_workflow(), "succeeded", 29.9)

    retention.run()

    assert remaining(Execution) == {inside}


@pytest.mark.parametrize("status", ["queued", "running", "waiting"])
def test_an_unfinished_run_stays_however_old(make_workflow, make_run, status):
    unfinished = make_run(make_workflow(), status, 3650)

    assert retention.run().executions == 0
    assert remaining(Execution) == {unfinished}


def test_a_longer_override_keeps_runs_the_default_would_remove(make_workflow, make_run):
    kept = make_run(make_workflow(retention_days=60), "succeeded", OLD)
    removed = make_run(make_workflow(), "succeeded", OLD)

    retention.run()

    assert remaining(Execution) == {kept}
    assert removed not in remaining(Execution)


@pytest.mark.settings(RELAY_RETENTION_DAYS=60)
def test_the_default_comes_from_relay_retention_days(make_workflow, make_run):
    kept = make_run(make_workflow(), "succeeded", OLD)

    retention.run()

    assert remaining(Execution) == {kept}


def test_five_expired_runs_go_in_three_batches_of_at_most_two(make_workflow, make_run):
    workflow = make_workflow()
    for _ in range(5):
        make_run(workflow, "succeeded", OLD)
    fresh = make_run(workflow, "succeeded", FRESH)

    report = retention.run(batch_size=2)

    assert (report.executions, report.run_batches) == (5, 3)
    assert remaining(Execution) == {fresh}


def test_a_dry_run_counts_and_removes_nothing(make_workflow, make_run, make_fire, make_audit_entry):
    workflow = make_workflow()
    runs = {make_run(workflow, "succeeded", OLD), make_run(workflow, "succeeded", FRESH)}
    make_fire(workflow, OLD)
    make_audit_entry(400)

    report = retention.run(dry_run=True)

    assert (report.executions, report.schedule_fires, report.audit_entries) == (1, 1, 1)
    assert report.describe().startswith("would remove 1 finished run(s)")
    assert remaining(Execution) == runs


def test_old_schedule_fires_go_but_recent_and_pending_ones_stay(make_workflow, make_fire, make_run):
    workflow, keeps_long = make_workflow(), make_workflow(retention_days=90)
    make_fire(workflow, OLD)
    kept = {make_fire(workflow, FRESH), make_fire(workflow, OLD, status="pending"), make_fire(keeps_long, OLD)}

    assert retention.run().schedule_fires == 1
    assert remaining(ScheduleFire) == kept


def test_a_fire_whose_run_is_removed_goes_with_the_same_days(make_workflow, make_fire, make_run):
    workflow = make_workflow()
    make_run(workflow, "succeeded", OLD)
    make_fire(workflow, OLD)

    report = retention.run()

    assert (report.executions, report.schedule_fires) == (1, 1)
    assert remaining(ScheduleFire) == set()


def test_audit_entries_older_than_the_audit_retention_go(make_audit_entry):
    make_audit_entry(366)
    kept = {make_audit_entry(OLD), make_audit_entry(364)}

    assert retention.run().audit_entries == 1
    assert remaining(AuditLog) == kept


@pytest.mark.settings(RELAY_AUDIT_RETENTION_DAYS=30)
def test_the_audit_retention_comes_from_relay_audit_retention_days(make_audit_entry):
    kept = make_audit_entry(FRESH)
    make_audit_entry(OLD)

    retention.run()

    assert remaining(AuditLog) == {kept}
