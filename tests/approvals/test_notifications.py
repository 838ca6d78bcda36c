"""Approval notices and their signed links, end to end: a real SMTP server and a Slack stand-in receive the
notices the approval pass sends; the links are followed with a browser-like client that is not signed in.
Page requests run with no app context pushed (tests/web/conftest.py says why); setup pushes its own."""

from __future__ import annotations

import base64
import email
import email.policy
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from automation import approval_links, approval_sla, ingest
from automation.accounts import default_workspace
from automation.connections import create_connection
from automation.models import ApprovalTask, db, utcnow
from tests.approvals.conftest import (
    PEOPLE,
    REFUND,
    approval_flow,
    create_people,
    publish_workflow,
    reasons,
    run,
    step_output,
    task_of,
)
from tests.connectors import conftest as connector_fixtures
from tests.connectors.conftest import SmtpPeer
from tests.support.recording_server import RecordingServer, Reply
from tests.web.conftest import csrf_token, submit

start_smtp = connector_fixtures.start_smtp
BASE = "http://relay.test"
LINK = re.compile(re.escape(BASE) + r"(/approvals/act/[A-Za-z0-9_.\-]+)")


@pytest.fixture
def settings(settings: dict[str, Any]) -> dict[str, Any]:
    return {**settings, "RELAY_ALLOWED_HOSTS": "127.0.0.1", "RELAY_BASE_URL": BASE}


@dataclass
class World:
    app: Flask
    smtp: SmtpPeer
    slack: RecordingServer

    def mails(self) -> list[Any]:
        return [email.message_from_bytes(e.content, policy=email.policy.default) for e in self.smtp.mailbox.received]

    def links(self, index: int = -1) -> dict[str, str]:
        """The approve and reject paths of the ``index``-th email."""
        approve, reject = LINK.findall(self.mails()[index].get_content())
        return {"approve": approve, "reject": reject}

    def slack_posts(self) -> list[dict[str, Any]]:
        return [r.json() for r in self.slack.requests if r.path.endswith("/chat.postMessage")]

    def open(self, **options: Any) -> tuple[int, int]:
        """A run parked at an approval with these step options, and the approval pass run; (execution, task)."""
        with self.app.app_context():
            workflow = publish_workflow(approval_flow(**options))
            execution, _ = ingest.start_execution(workflow, trigger_kind="manual", payload={"body": REFUND})
            assert run(execution.id).status == "waiting"
            approval_sla.run_pass()
            return execution.id, task_of(execution.id).id

    def task(self, task_id: int) -> ApprovalTask:
        with self.app.app_context():
            task = db.session.get(ApprovalTask, task_id)
            assert task is not None
            db.session.expunge(task)
            return task


@pytest.fixture
def slack() -> Iterator[RecordingServer]:
    with RecordingServer(default=Reply(200, {"ok": True, "channel": "C0123", "ts": "1700000000.000100"})) as server:
        yield server


@pytest.fixture
def world(app: Flask, start_smtp: Callable[..., SmtpPeer], slack: RecordingServer) -> World:
    smtp = start_smtp()
    with app.app_context():
        create_people()
        workspace = default_workspace(create=False)
        assert workspace is not None
        create_connection(workspace.id, "Mail", "smtp", smtp.fields())
        create_connection(workspace.id, "Chat", "slack", {"bot_token": "xoxb-approval-tests-token",
                                                           "base_url": slack.url + "/api/"})
    return World(app, smtp, slack)


def test_opening_a_task_emails_the_assignee_with_signed_links(world: World) -> None:
    _, task_id = world.open(notify="Mail")

    [mail] = world.mails()
    assert mail["To"] == "ada@example.com"
    assert mail["Subject"] == "Your approval is needed: Refund 120 EUR to Grace"
    text = mail.get_content()
    assert "Order A-17 (Refunds)" in text and "Due: " in text
    with world.app.app_context():
        link = approval_links.read(world.links()["approve"].rsplit("/", 1)[1], now=utcnow())
    assert (link.task_id, link.decision) == (task_id, "approve")
    assert world.task(task_id).notified_at is not None and world.task(task_id).notify_error is None


def test_a_role_task_emails_every_member_with_links_of_their_own(world: World) -> None:
    world.open(assignee="role:approver", notify="Mail")

    assert sorted(m["To"] for m in world.mails()) == ["ada@example.com", "alan@example.com"]
    first, second = world.links(0)["approve"], world.links(1)["approve"]
    with world.app.app_context():
        recipients = {approval_links.read(p.rsplit("/", 1)[1]).recipient_id for p in (first, second)}
    assert len(recipients) == 2


def test_a_link_approves_once_as_its_recipient_and_then_says_who_decided(world: World) -> None:
    execution_id, task_id = world.open(notify="Mail")
    links = world.links()
    client, late = world.app.test_client(), world.app.test_client()
    late_token = csrf_token(late, links["reject"])  # a second tab, open before the first one decides

    page = client.get(links["approve"]).get_data(as_text=True)
    assert "Approve: Refund 120 EUR to Grace" in page and "You decide as ada@example.com" in page
    response = submit(client, links["approve"], {"comment": "fine"})

    assert response.status_code == 200, response.get_data(as_text=True)
    assert "approved by ada@example.com" in response.get_data(as_text=True)
    with world.app.app_context():
        assert run(execution_id).status == "succeeded"
        assert step_output(execution_id, "ask")["decided_by"] == "ada@example.com"
        assert step_output(execution_id, "refund") == {"note": "refunded, approved by ada@example.com"}
        assert "approved by ada@example.com: fine" in reasons(execution_id)
    again = client.get(links["approve"])
    assert again.status_code == 200
    assert "already approved by ada@example.com on " in again.get_data(as_text=True)
    refused = late.post(links["reject"], data={"comment": "no", "csrf_token": late_token})
    assert refused.status_code == 409
    assert "already approved by ada@example.com" in refused.get_data(as_text=True)


def test_a_reject_link_asks_for_the_reason(world: World) -> None:
    execution_id, _ = world.open(notify="Mail")
    path = world.links()["reject"]
    client = world.app.test_client()

    missing = submit(client, path, {"comment": ""})
    assert missing.status_code == 422 and "a rejection needs a comment" in missing.get_data(as_text=True)
    assert submit(client, path, {"comment": "order was never paid"}).status_code == 200

    with world.app.app_context():
        assert run(execution_id).status == "succeeded"
        assert step_output(execution_id, "apologise") == {"note": "sorry: order was never paid"}


def test_a_get_never_decides(world: World) -> None:
    execution_id, task_id = world.open(notify="Mail")
    client = world.app.test_client()

    for path in world.links().values():
        assert client.get(path).status_code == 200
        assert client.head(path).status_code == 200

    assert world.task(task_id).status == "pending"
    with world.app.app_context():
        assert reasons(execution_id)[-1].startswith("waiting in 'ask'")


def test_an_expired_link_explains_itself(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    _, task_id = world.open(notify="Mail")
    path = world.links()["approve"]
    due_at = world.task(task_id).due_at
    assert due_at is not None
    monkeypatch.setattr(approval_links, "utcnow", lambda: due_at + approval_links.GRACE + timedelta(seconds=1))

    response = world.app.test_client().get(path)

    assert response.status_code == 410
    page = response.get_data(as_text=True)
    assert "This link has expired" in page and "Refund 120 EUR to Grace" in page and "approvals inbox" in page
    assert world.task(task_id).status == "pending"


def test_a_link_edited_to_name_another_task_is_refused(world: World) -> None:
    world.open(notify="Mail")
    _, other_id = world.open(notify="Mail")
    token = world.links(0)["approve"].rsplit("/", 1)[1]
    payload, *signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = base64.urlsafe_b64encode(json.dumps({**data, "task": other_id}).encode()).decode().rstrip("=")
    client = world.app.test_client()

    for bad in (".".join([forged, *signature]), token[:-4], "not-a-token"):
        response = client.get(approval_links.PATH + bad)
        assert response.status_code == 400
        assert "This link cannot be used" in response.get_data(as_text=True)
    assert world.task(other_id).status == "pending"


def test_a_link_stops_deciding_once_the_task_is_delegated_away(world: World) -> None:
    _, task_id = world.open(notify="Mail")
    path = world.links(0)["approve"]
    client = world.app.test_client()
    with world.app.app_context():
        from automation import approvals  # noqa: PLC0415 - the decision module, used as the API would
        from automation.models import Role, User  # noqa: PLC0415
        ada = db.session.scalar(sa.select(User).where(User.email == "ada@example.com"))
        task = db.session.get(ApprovalTask, task_id)
        assert ada is not None and task is not None
        approvals.delegate(task, approvals.Actor(ada, Role.APPROVER), "alan@example.com")
        approval_sla.run_pass()

    response = client.get(path)
    assert response.status_code == 403 and "moved to alan@example.com" in response.get_data(as_text=True)
    assert world.mails()[-1]["To"] == "alan@example.com"
    assert world.mails()[-1]["Subject"].startswith("An approval was delegated to you")


@pytest.mark.storage
def test_a_reminder_goes_out_once_per_interval_even_when_two_passes_race(world: World) -> None:
    _, task_id = world.open(notify="Mail", remind_every="1h")
    created = world.task(task_id).created_at
    barrier = threading.Barrier(2)
    counts: list[int] = []

    def remind(at: Any) -> None:
        with world.app.app_context():
            barrier.wait()
            counts.append(approval_sla.remind_due(at))
            db.session.remove()

    threads = [threading.Thread(target=remind, args=(created + timedelta(minutes=61),)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(counts) == [0, 1]
    assert [str(m["Subject"]).strip().split(":")[0] for m in world.mails()] == [
        "Your approval is needed", "Reminder"]
    with world.app.app_context():
        assert approval_sla.remind_due(created + timedelta(minutes=100)) == 0
        assert approval_sla.remind_due(created + timedelta(minutes=122)) == 1
    assert len(world.mails()) == 3


@pytest.mark.storage
def test_an_sla_that_passes_escalates_notifies_the_channel_and_leaves_the_task_overdue(
        world: World, client: FlaskClient) -> None:
    execution_id, task_id = world.open(due_in="1s", escalate_to="role:owner", notify="Chat",
                                       notify_channel="#approvals")
    [opened] = world.slack_posts()
    assert opened["channel"] == "#approvals" and "/approvals/act/" in opened["text"]
    due_at = world.task(task_id).due_at
    assert due_at is not None
    time.sleep(max(0.0, (due_at - utcnow()).total_seconds()) + 0.05)  # the SLA passes for real

    with world.app.app_context():
        first = approval_sla.run_pass()
        second = approval_sla.run_pass(due_at + timedelta(minutes=5))
        assert (first.escalated, first.notified, second.escalated, second.notified) == (1, 1, 0, 0)
        assert reasons(execution_id)[-1] == "escalated to role:owner after the SLA passed"
        owner_token = create_owner_token()

    [_, escalated] = world.slack_posts()
    assert escalated["text"].startswith("An approval was escalated to you because its SLA passed.")
    assert "(overdue)" in escalated["text"] and "/approvals/act/" not in escalated["text"]
    task = world.task(task_id)
    assert (task.assignee_user_id, task.assignee_role, task.escalated_at is not None) == (None, "owner", True)
    shown = client.get(f"/api/v1/approvals/{task_id}", headers=owner_token).get_json()
    assert (shown["assignee"], shown["urgency"], shown["status"]) == ("role:owner", "overdue", "pending")
    assert shown["hours_remaining"] <= 0


def test_a_failed_notice_is_recorded_and_the_run_keeps_waiting(world: World) -> None:
    with world.app.app_context():
        workspace = default_workspace(create=False)
        assert workspace is not None
        create_connection(workspace.id, "Dead mail", "smtp", {**world.smtp.fields(), "port": 9})
    execution_id, task_id = world.open(notify="Dead mail")

    task = world.task(task_id)
    assert task.notified_at is not None and task.notify_error and "ada@example.com" in task.notify_error
    with world.app.app_context():
        assert run(execution_id).status == "waiting"


def test_a_slack_notify_needs_a_channel_and_an_existing_connection(world: World) -> None:
    with world.app.app_context():
        for options, problem in (({"notify": "Chat"}, "steps.ask.with.notify_channel: required"),
                                 ({"notify": "Nope"}, "steps.ask.with.notify: connection 'Nope' does not exist")):
            workflow = publish_workflow(approval_flow(**options))
            execution, _ = ingest.start_execution(workflow, trigger_kind="manual", payload={"body": REFUND})
            failed = run(execution.id)
            assert failed.status == "failed" and problem in (failed.error or "")


def create_owner_token() -> dict[str, str]:
    from automation.accounts import create_api_token  # noqa: PLC0415

    return {"Authorization": "Bearer " + create_api_token(PEOPLE["owner"][0])}
