"""The pages under their Content-Security-Policy in real headless Chromium: signing in, the gallery, a
template's form, a workflow with its webhook and copy button, a run followed live to its end, and every
page of the navigation load without a single CSP violation; and the policy is really enforced (an inline
style added to a page is refused)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from automation import ingest, workflows
from automation.models import Workspace, db
from tests.web.conftest import PASSWORD

# Violations reach the page as events; Chromium also logs each one on the console.
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""
STEPS = [{"id": "greet", "uses": "core.set", "with": {"text": "Hello {{ trigger.body.name }}"}}]


@pytest.fixture
def csp_page(page: Any) -> Any:
    page.console_violations = []
    page.add_init_script(RECORD_VIOLATIONS)
    page.on("console", lambda message: "Content Security Policy" in message.text
            and page.console_violations.append(message.text))
    return page


def violations(page: Any) -> list[str]:
    return [*page.evaluate("window.cspViolations"), *page.console_violations]


def sign_in(page: Any, live_server: str, email: str) -> None:
    page.goto(live_server + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server + "/")


def webhook_workflow_with_a_run(app: Flask) -> tuple[int, int]:
    """A published webhook workflow and a queued run of it: its ids."""
    with app.app_context():
        workspace = db.session.query(Workspace).one()
        workflow = workflows.publish(workflows.create_workflow(
            workspace.id, "Greeter", {"trigger": {"type": "webhook"}, "steps": STEPS}))
        execution, _ = ingest.start_execution(workflow, trigger_kind="webhook", payload={"body": {"name": "Ada"}})
        return workflow.id, execution.id


def test_every_page_loads_under_the_policy_without_a_violation(csp_page, live_server, app, owner, start_process):
    start_process("worker")
    workflow_id, execution_id = webhook_workflow_with_a_run(app)
    sign_in(csp_page, live_server, owner)

    csp_page.goto(live_server + "/templates")
    csp_page.get_by_role("link", name=re.compile("New lead to Slack")).first.click()
    csp_page.wait_for_url(re.compile(r"/templates/lead-to-slack"))
    csp_page.goto(f"{live_server}/workflows/{workflow_id}")
    csp_page.locator("[data-copy*='/hooks/']").first.click()
    csp_page.goto(f"{live_server}/runs/{execution_id}")
    csp_page.wait_for_selector(".run-live[data-status='succeeded'][data-finished]", timeout=30_000)
    assert violations(csp_page) == []

    navigation = csp_page.locator("nav[aria-label='Main'] a").evaluate_all("links => links.map(a => a.href)")
    assert len(navigation) >= 5
    for url in navigation:
        answer = csp_page.goto(url)
        assert answer is not None and answer.status == 200, url
        assert answer.headers["content-security-policy"].startswith("default-src 'self'")
        assert violations(csp_page) == [], url


def test_an_inline_style_added_to_a_page_is_refused(csp_page, live_server, owner):
    csp_page.goto(live_server + "/login")

    csp_page.evaluate("document.body.insertAdjacentHTML('beforeend', '<p id=\"inline\" style=\"color: red\">x</p>')")
    csp_page.wait_for_function("window.cspViolations.length > 0")

    assert any(v.startswith("style-src") for v in violations(csp_page))
    assert csp_page.locator("#inline").evaluate("p => getComputedStyle(p).color") != "rgb(255, 0, 0)"
