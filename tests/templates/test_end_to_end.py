"""Every template, end to end: it passes the library check, is instantiated with its examples through the API,
published, triggered (its webhook, signed where it verifies, or Run now) and run in this process against
local peers, and the peers receive the messages the template promises, with the params and payload in them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook

from automation.models import StepRun, db, utcnow
from automation.template_checks import check
from automation.templates import library, template_files
from tests.engine.conftest import fast_forward
from tests.templates.conftest import APPROVER, SIGNING_SECRET, Harness

pytestmark = pytest.mark.storage

# Templates that need something the engine or the definition checks do not offer yet (see docs/templates.md).

Scenario = Callable[[Harness], None]
SCENARIOS: dict[str, Scenario] = {}


def scenario(key: str) -> Callable[[Scenario], Scenario]:
    def register(function: Scenario) -> Scenario:
        SCENARIOS[key] = function
        return function

    return register


def cases(keys: list[str]) -> list[object]:
    return [pytest.param(key) for key in keys]


@pytest.mark.parametrize("key", cases([key for key, _ in template_files()]))
def test_template_validates_instantiates_and_runs_end_to_end(harness: Harness, key: str) -> None:
    assert check(library()[key]) == []
    assert key in SCENARIOS, f"no end-to-end scenario for {key}"
    SCENARIOS[key](harness)


def example(key: str) -> dict:
    template = library()[key]
    return dict(template.example_request or template.example_response)


@scenario("lead-to-slack")
def lead_to_slack(h: Harness) -> None:
    lead = example("lead-to-slack")
    workflow = h.create("lead-to-slack", channel="#leads")

    assert h.run(h.hook(workflow, lead)).status == "succeeded"

    [post] = h.peers.slack_posts()
    assert post["channel"] == "#leads"
    assert all(lead[field] in post["text"] for field in ("name", "email", "company", "message"))
    [mail] = h.peers.emails()
    assert h.peers.recipients() == [[lead["email"]]]
    assert mail["Subject"] == "Thanks for getting in touch with Acme Inc."
    assert "answer within 24 hours" in h.peers.texts()[0]


@scenario("welcome-series")
def welcome_series(h: Harness) -> None:
    signup = example("welcome-series")
    workflow = h.create("welcome-series", follow_up_days=2)
    execution_id = h.hook(workflow, signup)

    parked = h.run(execution_id)

    assert parked.status == "waiting"
    waiting = db.session.scalars(sa.select(StepRun).where(StepRun.execution_id == execution_id,
                                                          StepRun.status == "waiting")).one()
    assert waiting.step_id == "wait"
    assert abs(waiting.resume_at - (utcnow() + timedelta(days=2))) < timedelta(minutes=1)
    assert parked.wake_at == waiting.resume_at
    assert [m["Subject"] for m in h.peers.emails()] == ["Welcome to Acme Cloud"]
    fast_forward(execution_id)
    assert h.run(execution_id).status == "succeeded"
    welcome, follow_up = h.peers.emails()
    assert h.peers.recipients() == [[signup["email"]], [signup["email"]]]
    assert follow_up["Subject"] == "Getting the most out of Acme Cloud"
    text = h.peers.texts()[1]
    assert "for 2 days now" in text and "Guides to get started: https://help.example.com/getting-started" in text


@scenario("order-shipped-sms")
def order_shipped_sms(h: Harness) -> None:
    order = example("order-shipped-sms")
    workflow = h.create("order-shipped-sms")

    assert h.run(h.hook(workflow, order)).status == "succeeded"

    [sms] = h.peers.sms()
    assert (sms["To"], sms["From"]) == (order["phone"], "+15005550006")
    assert sms["Body"].startswith("Acme Store: hi Ada, your order 1001 is on its way.")
    assert order["tracking_url"] in sms["Body"]


@scenario("appointment-reminders")
def appointment_reminders(h: Harness) -> None:
    appointments = example("appointment-reminders")["appointments"]
    url = h.peers.serve("/appointments/tomorrow", {"appointments": appointments})
    workflow = h.create("appointment-reminders", appointments_url=url, send_at="18:15")

    assert workflow["definition"]["trigger"]["schedule"] == {"cron": "15 18 * * *", "timezone": "Europe/Berlin"}
    assert h.run(h.run_now(workflow)).status == "succeeded"

    texts = sorted(h.peers.sms(), key=lambda sms: sms["To"])
    assert [sms["To"] for sms in texts] == sorted(a["phone"] for a in appointments)
    for sms in texts:
        person = next(a for a in appointments if a["phone"] == sms["To"])
        assert f"Hi {person['name']}" in sms["Body"] and person["time"] in sms["Body"]
        assert "Bright Smile Dental" in sms["Body"]


@scenario("daily-digest")
def daily_digest(h: Harness) -> None:
    url = h.peers.serve("/daily", example("daily-digest"))
    workflow = h.create("daily-digest", report_url=url, recipient="sales@example.com")

    assert workflow["definition"]["trigger"]["schedule"] == {"cron": "30 7 * * MON-FRI", "timezone": "Europe/Berlin"}
    assert h.run(h.run_now(workflow)).status == "succeeded"

    [mail] = h.peers.emails()
    assert h.peers.recipients() == [["sales@example.com"]]
    assert mail["Subject"] == f"Sales digest for {utcnow():%Y-%m-%d}"
    assert h.peers.texts() == [
        "A good day for sign-ups.\n\n- New sign-ups: 42\n- Revenue: €1,250\n\n"
        "Highlights:\n* Acme Corp upgraded to the team plan."]


@scenario("weekly-teams-report")
def weekly_teams_report(h: Harness) -> None:
    report = example("weekly-teams-report")
    url = h.peers.serve("/weekly", report)
    workflow = h.create("weekly-teams-report", metrics_url=url)

    assert workflow["definition"]["trigger"]["schedule"]["cron"] == "0 9 * * MON"
    assert h.run(h.run_now(workflow)).status == "succeeded"

    [card] = h.peers.teams_cards()
    assert card["title"] == f"Weekly sales report: week of {utcnow():%Y-%m-%d}"
    assert card["text"] == report["summary"]
    assert card["sections"][0]["facts"] == [{"name": m["name"], "value": str(m["value"])} for m in report["metrics"]]
    assert card["potentialAction"][0]["target"] == ["https://dashboards.example.com/sales"]


@scenario("uptime-monitor")
def uptime_monitor_down(h: Harness) -> None:
    url = h.peers.serve("/health", {"status": "database unreachable"}, status=503)
    workflow = h.create("uptime-monitor", check_url=url, every_minutes=2)

    assert workflow["definition"]["trigger"]["schedule"] == {"every": "2m"}
    assert h.run(h.run_now(workflow)).status == "succeeded"

    [sms] = h.peers.sms()
    assert sms["To"] == "+14155550123" and sms["Body"].startswith(f"DOWN: {url}")
    [post] = h.peers.slack_posts()
    assert post["channel"] == "#ops" and url in post["text"]


@scenario("incident-paging")
def incident_paging(h: Harness) -> None:
    alert = example("incident-paging")
    workflow = h.create("incident-paging")

    assert h.run(h.hook(workflow, alert)).status == "succeeded"
    assert h.run(h.hook(workflow, {**alert, "severity": "warning", "title": "Disk 80% full"})).status == "succeeded"

    [page] = h.peers.sms()
    assert page["To"] == "+14155550123" and page["Body"].startswith("CRITICAL: Checkout error rate above 5%")
    critical, warning = h.peers.slack_posts()
    assert critical["channel"] == warning["channel"] == "#incidents"
    assert ":rotating_light:" in critical["text"] and "Disk 80% full" in warning["text"]
    [card] = h.peers.teams_cards()
    assert card["title"] == "CRITICAL: Checkout error rate above 5%"
    assert card["potentialAction"][0]["target"] == [alert["url"]]


@scenario("payment-failed")
def payment_failed(h: Harness) -> None:
    payment = example("payment-failed")
    workflow = h.create("payment-failed")
    assert workflow["definition"]["trigger"]["verify"] == {
        "scheme": "hmac_sha256", "connection": "Payments signing secret", "header": "X-Signature", "prefix": "sha256="}

    unsigned = h.client.post("/hooks/" + workflow["webhook_url"].rsplit("/", 1)[1], json=payment)
    assert unsigned.status_code == 401
    assert h.run(h.hook(workflow, payment, signed_in="X-Signature")).status == "succeeded"

    [mail] = h.peers.emails()
    assert h.peers.recipients() == [[payment["customer_email"]]]
    assert mail["Subject"] == "Your payment to Acme Inc. did not go through"
    [body] = h.peers.texts()
    assert "49.00 EUR for invoice INV-2024-0042" in body and "The card was declined." in body
    assert "https://billing.example.com/payment-method" in body
    [card] = h.peers.teams_cards()
    assert card["title"] == "Payment failed: 49.00 EUR"
    facts = {fact["name"]: fact["value"] for fact in card["sections"][0]["facts"]}
    assert facts["Customer"] == "Ada Lovelace <ada@example.com>" and facts["Invoice"] == "INV-2024-0042"


@scenario("ticket-triage")
def ticket_triage(h: Harness) -> None:
    ticket = example("ticket-triage")
    workflow = h.create("ticket-triage")

    assert h.run(h.hook(workflow, ticket)).status == "succeeded"
    assert h.run(h.hook(workflow, {**ticket, "id": "4712", "priority": "low"})).status == "succeeded"

    [post] = h.peers.slack_posts()
    assert post["channel"] == "#urgent" and "#4711" in post["text"] and ticket["subject"] in post["text"]
    [sms] = h.peers.sms()
    assert sms["To"] == "+14155550123" and "#4711" in sms["Body"]
    [card] = h.peers.teams_cards()
    assert card["title"] == f"New ticket #4712: {ticket['subject']}"


@scenario("expense-approval")
def expense_approval_approved(h: Harness) -> None:
    expense = example("expense-approval")
    execution_id = park_expense(h)

    decide(h, "approve", "Fine, thanks.")

    assert h.run(execution_id).status == "succeeded"
    [mail] = h.peers.emails()
    assert h.peers.recipients() == [[expense["employee_email"]]]
    assert mail["Subject"] == "Your expense of 129.90 EUR was approved"
    assert "Comment: Fine, thanks." in h.peers.texts()[0]
    [delivery] = h.peers.receiver.requests
    assert delivery.path == "/expenses"
    event = Webhook(SIGNING_SECRET).verify(delivery.body, delivery.headers)
    assert event["type"] == "expense.approved"
    assert (event["data"]["employee"], event["data"]["approved_by"]) == (expense["employee_email"], APPROVER)


def test_a_rejected_expense_emails_the_reason_and_sends_nothing_to_accounting(harness: Harness) -> None:
    expense = example("expense-approval")
    execution_id = park_expense(harness)

    decide(harness, "reject", "Please use the company travel agent.")

    assert harness.run(execution_id).status == "succeeded"
    [mail] = harness.peers.emails()
    assert mail["Subject"] == "Your expense of 129.90 EUR was not approved"
    assert "Reason: Please use the company travel agent." in harness.peers.texts()[0]
    assert harness.peers.recipients() == [[expense["employee_email"]]]
    assert harness.peers.receiver.requests == []


def park_expense(h: Harness) -> int:
    """An expense submitted and waiting for the manager; its execution id."""
    workflow = h.create("expense-approval", approver=APPROVER, accounting_url=h.peers.receiver.url + "/expenses")
    execution_id = h.hook(workflow, example("expense-approval"))
    assert h.run(execution_id).status == "waiting"
    assert h.peers.emails() == []
    return execution_id


def decide(h: Harness, verb: str, comment: str) -> None:
    """The approver finds the pending task in their inbox and approves or rejects it."""
    [task] = h.client.get("/api/v1/approvals?status=pending", headers=h.approver).get_json()["items"]
    assert task["title"] == "Expense: 129.90 EUR from Grace Hopper"
    response = h.client.post(f"/api/v1/approvals/{task['id']}/{verb}", json={"comment": comment},
                             headers=h.approver)
    assert response.status_code == 200, response.get_json()


@scenario("deploy-announcement")
def deploy_announcement(h: Harness) -> None:
    deploy = example("deploy-announcement")
    workflow = h.create("deploy-announcement")

    assert h.run(h.hook(workflow, deploy)).status == "succeeded"
    assert h.run(h.hook(workflow, {**deploy, "environment": "staging"})).status == "succeeded"

    [post] = h.peers.slack_posts()
    assert post["channel"] == "#releases"
    assert "*billing-api v2.14.0* is live in production (deployed by grace)" in post["text"]
    assert deploy["notes"] in post["text"]
    [card] = h.peers.teams_cards()
    assert (card["title"], card["text"]) == ("Released: billing-api v2.14.0", deploy["notes"])


@scenario("webhook-relay")
def webhook_relay(h: Harness) -> None:
    incoming = example("webhook-relay")
    workflow = h.create("webhook-relay", target_url=h.peers.receiver.url + "/contacts")

    assert h.run(h.hook(workflow, incoming)).status == "succeeded"

    [delivery] = h.peers.receiver.requests
    assert delivery.path == "/contacts"
    event = Webhook(SIGNING_SECRET).verify(delivery.body, delivery.headers)
    assert event["type"] == "contact.created"
    assert {k: event["data"][k] for k in ("source", "email", "name", "data")} == {
        "source": "website", "email": incoming["email"], "name": incoming["name"], "data": incoming}


@scenario("invoice-reminders")
def invoice_reminders(h: Harness) -> None:
    invoices = example("invoice-reminders")["invoices"]
    url = h.peers.serve("/invoices/overdue", {"invoices": invoices})
    workflow = h.create("invoice-reminders", invoices_url=url)

    assert h.run(h.run_now(workflow)).status == "succeeded"

    mails = sorted(h.peers.emails(), key=lambda mail: mail["To"])
    assert [mail["To"] for mail in mails] == sorted(invoice["email"] for invoice in invoices)
    for mail in mails:
        invoice = next(i for i in invoices if i["email"] == mail["To"])
        assert mail["Subject"] == f"Reminder: invoice {invoice['number']} from Acme Inc. is overdue"
        assert mail["Reply-To"] == "accounts@example.com"
        text = mail.get_content()
        assert invoice["pay_url"] in text and f"{invoice['amount']} EUR was due on {invoice['due_date']}" in text


@scenario("standup-reminder")
def standup_reminder(h: Harness) -> None:
    workflow = h.create("standup-reminder", days="MON,WED,FRI")

    assert workflow["definition"]["trigger"]["schedule"] == {"cron": "25 9 * * MON,WED,FRI",
                                                              "timezone": "Europe/Berlin"}
    assert h.run(h.run_now(workflow)).status == "succeeded"

    message = library()["standup-reminder"].examples()["message"]
    [post] = h.peers.slack_posts()
    assert (post["channel"], post["text"]) == ("#team", f":alarm_clock: {message}")
    [card] = h.peers.teams_cards()
    assert (card["title"], card["text"]) == ("Stand-up", message)


@scenario("low-stock-alert")
def low_stock_alert(h: Harness) -> None:
    url = h.peers.serve("/inventory", example("low-stock-alert"))
    workflow = h.create("low-stock-alert", inventory_url=url, threshold=5)

    assert workflow["definition"]["trigger"]["schedule"] == {"every": "1h"}
    assert h.run(h.run_now(workflow)).status == "succeeded"

    [mail] = h.peers.emails()
    assert h.peers.recipients() == [["purchasing@example.com"]]
    assert mail["Subject"] == "Low stock: 2 item(s) below 5"
    assert h.peers.texts() == ["These items have fewer than 5 in stock:\n"
                               "- Coffee mug (MUG-01): 3 left\n- Cap (CAP-01): 0 left"]
    [post] = h.peers.slack_posts()
    assert post["channel"] == "#purchasing" and "Coffee mug: 3" in post["text"] and "T-shirt" not in post["text"]


def test_low_stock_alert_sends_nothing_when_every_item_is_stocked(harness: Harness) -> None:
    url = harness.peers.serve("/inventory", {"items": [{"sku": "MUG-01", "name": "Coffee mug", "quantity": 50}]})
    workflow = harness.create("low-stock-alert", inventory_url=url)

    execution_id = harness.run_now(workflow)

    assert harness.run(execution_id).status == "succeeded"
    assert harness.steps(execution_id)["any_low"] == "succeeded"
    assert (harness.peers.emails(), harness.peers.slack_posts()) == ([], [])


def test_uptime_monitor_sends_nothing_while_the_site_is_up(harness: Harness) -> None:
    workflow = harness.create("uptime-monitor", check_url=harness.peers.serve("/health", {"status": "ok"}))

    assert harness.run(harness.run_now(workflow)).status == "succeeded"

    assert (harness.peers.sms(), harness.peers.slack_posts()) == ([], [])

