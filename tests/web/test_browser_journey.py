"""The business user's journey in real headless Chromium: first-run setup → a Slack connection → the
lead-to-slack template from the gallery → its webhook → the run with every step succeeded, and the Slack
stand-in holding the message. Screenshots of the main pages (desktop and 375 px) go to docs/screenshots/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import requests

from automation import connections
from automation.models import Workflow, Workspace, db
from tests.conftest import wait_for
from tests.connectors.conftest import start_smtp  # noqa: F401 - the real SMTP server fixture
from tests.support.recording_server import RecordingServer, Reply
from tests.web.conftest import PASSWORD, rows

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SLACK_OK = Reply(200, {"ok": True, "channel": "C0123", "ts": "1700000000.000100"})


@pytest.fixture
def settings(settings: dict[str, Any]) -> dict[str, Any]:
    # The Slack stand-in and the SMTP server listen on 127.0.0.1, which steps may not reach by default.
    return {**settings, "RELAY_ALLOWED_HOSTS": "127.0.0.1"}


@pytest.fixture
def slack() -> Any:
    with RecordingServer(default=SLACK_OK) as server:
        yield server


def shoot(page: Any, name: str) -> None:
    """A full-page screenshot at desktop width and at 375 px, for the README."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-desktop.png"), full_page=True)
    page.set_viewport_size({"width": 375, "height": 812})
    page.screenshot(path=str(SCREENSHOTS / f"{name}-375.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def set_up_owner(page: Any, live_server: str) -> None:
    page.goto(live_server + "/")
    assert page.url.endswith("/setup")
    page.get_by_label("Your name").fill("Ada Lovelace")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label(re.compile(r"^Password\b(?! again)")).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Create the owner account").click()
    page.wait_for_url(live_server + "/")


def add_slack_connection(page: Any, live_server: str, slack: RecordingServer) -> None:
    page.goto(live_server + "/connections/new?connector=slack")
    page.get_by_label(re.compile(r"^Name\b")).fill("Team Slack")
    page.get_by_label(re.compile("Bot token")).fill("xoxb-journey-test-token-1234")
    page.get_by_label(re.compile("API base URL|Base URL")).fill(slack.url + "/api/")
    page.get_by_role("button", name=re.compile("Save|Add")).click()
    page.wait_for_url(re.compile(r"/connections"))
    assert "xoxb-journey-test-token-1234" not in page.content()


def open_lead_to_slack_form(page: Any, live_server: str) -> None:
    page.goto(live_server + "/templates")
    shoot(page, "gallery")
    page.get_by_role("link", name=re.compile("New lead to Slack")).first.click()
    page.wait_for_url(re.compile(r"/templates/lead-to-slack"))


def test_owner_builds_lead_to_slack_from_the_gallery_and_sees_its_run_succeed(
        page, live_server, app, slack, start_smtp, start_process):  # noqa: F811
    smtp = start_smtp()
    start_process("worker")
    set_up_owner(page, live_server)
    add_slack_connection(page, live_server, slack)
    rows(app, lambda: connections.create_connection(
        db.session.query(Workspace).one().id, "Company mail", "smtp",
        {"host": "127.0.0.1", "port": smtp.port, "security": "none", "from_address": "hello@example.com"}))

    open_lead_to_slack_form(page, live_server)
    page.get_by_label("Slack connection").select_option(label="Team Slack")
    page.get_by_label("Slack channel").fill("#leads")
    page.get_by_label("Email connection").select_option(label="Company mail")
    page.get_by_label("Company name").fill("Acme Inc.")
    shoot(page, "setup-form")
    page.get_by_role("button", name=re.compile("Create")).click()
    page.wait_for_url(re.compile(r"/workflows/\d+$"))
    assert "active" in page.content()
    shoot(page, "workflow")

    hook_url = page.locator("[data-copy*='/hooks/']").first.get_attribute("data-copy")
    assert hook_url and "/hooks/" in hook_url
    answer = requests.post(hook_url, json={"name": "Grace Hopper", "email": "grace@example.com",
                                           "message": "Interested in a demo"}, timeout=10)
    assert answer.status_code == 202, answer.text
    execution_id = answer.json()["execution_id"]

    page.goto(f"{live_server}/runs/{execution_id}")
    # No reload: the page follows the run by itself until it has finished.
    page.wait_for_selector(".run-live[data-status='succeeded'][data-finished]", timeout=30_000)
    steps = page.locator(".attempt[data-step]").evaluate_all(
        "els => els.map(e => [e.dataset.step, e.dataset.status])")
    assert steps == [["lead", "succeeded"], ["notify", "succeeded"], ["thank_you", "succeeded"]]
    shoot(page, "run")

    [post] = [r.json() for r in slack.requests if r.path == "/api/chat.postMessage"]
    assert post["channel"] == "#leads" and "Grace Hopper" in post["text"]
    wait_for(lambda: smtp.mailbox.received, message="the thank-you email never arrived")
    assert smtp.mailbox.received[0].rcpt_tos == ["grace@example.com"]


def test_a_wrongly_filled_setup_form_shows_each_error_next_to_its_field_and_creates_nothing(page, live_server, app):
    set_up_owner(page, live_server)
    open_lead_to_slack_form(page, live_server)
    page.get_by_label("Slack channel").fill("")
    page.get_by_label("Company name").fill("")
    page.get_by_label("Reply within (hours)").fill("999")
    page.get_by_role("button", name=re.compile("Create")).click()

    page.wait_for_selector(".field.has-error")
    for field in ("slack", "channel", "email", "company_name", "reply_hours"):
        error = page.locator(f"[id$='{field}-error']").first
        assert error.is_visible(), f"no error shown next to {field}"
        assert error.inner_text().strip()
    assert rows(app, lambda: db.session.query(Workflow).count()) == 0
