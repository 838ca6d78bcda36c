"""``trigger.verify``: each scheme accepts a correctly signed request and refuses a tampered, unsigned or stale
one with 401 naming what was wrong (never the expected value), storing nothing. A verification that cannot
run (missing or unreadable secret) is 503."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook

from automation.models import Connection, db
from tests.hooks.conftest import stored_executions, trigger_of, webhook

pytestmark = pytest.mark.storage

WHSEC = "whsec_" + base64.b64encode(b"k" * 32).decode()
GITHUB_SECRET = "github-shared-secret-0123456789"
BODY = json.dumps({"action": "opened", "number": 7}).encode()


def assert_refused(response, reason: str, *, not_containing: str = "") -> None:
    assert response.status_code == 401, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == reason
    if not_containing:
        assert not_containing not in response.get_data(as_text=True)
    assert stored_executions() == []


# --- Standard Webhooks -----------------------------------------------------------------------------------

def standard_headers(body: bytes, *, msg_id: str = "msg_1", at: datetime | None = None) -> dict[str, str]:
    at = at or datetime.now(UTC)
    signature = Webhook(WHSEC).sign(msg_id, at, body.decode())
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(at.timestamp())), "webhook-signature": signature,
            "Content-Type": "application/json"}


@pytest.fixture
def standard_hook(make_hook, make_secret) -> str:
    make_secret("sender", WHSEC)
    return make_hook(webhook(verify={"scheme": "standard_webhooks", "connection": "sender"}))["path"]


def test_standard_webhooks_accepts_a_request_signed_by_the_reference_library(client, standard_hook):
    response = client.post(standard_hook, data=BODY, headers=standard_headers(BODY))

    assert response.status_code == 202
    trigger = trigger_of(response)
    assert trigger["body"] == {"action": "opened", "number": 7}
    assert trigger["headers"]["webhook-id"] == "msg_1"
    assert "webhook-signature" not in trigger["headers"]


def test_standard_webhooks_refuses_a_tampered_body(client, standard_hook):
    headers = standard_headers(BODY)
    tampered = BODY.replace(b"7", b"8")
    expected = standard_headers(tampered)["webhook-signature"]

    response = client.post(standard_hook, data=tampered, headers=headers)

    assert_refused(response, "signature_mismatch", not_containing=expected.split(",")[1])


def test_standard_webhooks_refuses_an_unsigned_request(client, standard_hook):
    assert_refused(client.post(standard_hook, data=BODY, content_type="application/json"), "signature_missing")


def test_standard_webhooks_refuses_a_stale_timestamp(client, standard_hook):
    headers = standard_headers(BODY, at=datetime.now(UTC) - timedelta(minutes=10))

    assert_refused(client.post(standard_hook, data=BODY, headers=headers), "timestamp_stale")


def test_standard_webhooks_refuses_a_malformed_signature_header_with_401_not_500(client, standard_hook):
    headers = {**standard_headers(BODY), "webhook-signature": "not-a-signature"}

    assert_refused(client.post(standard_hook, data=BODY, headers=headers), "signature_malformed")


# --- shared secret -----------------------------------------------------------------------------------------

@pytest.fixture
def shared_hook(make_hook, make_secret) -> str:
    make_secret("token", GITHUB_SECRET)
    return make_hook(webhook(verify={"scheme": "shared_secret", "connection": "token"}))["path"]


def test_shared_secret_accepts_the_secret_in_its_header_and_does_not_store_it(client, shared_hook):
    response = client.post(shared_hook, json={"a": 1}, headers={"X-Relay-Token": GITHUB_SECRET})

    assert response.status_code == 202
    assert "x-relay-token" not in trigger_of(response)["headers"]
    assert GITHUB_SECRET not in json.dumps(trigger_of(response))


def test_shared_secret_refuses_a_wrong_secret(client, shared_hook):
    response = client.post(shared_hook, json={}, headers={"X-Relay-Token": GITHUB_SECRET + "x"})

    assert_refused(response, "signature_mismatch", not_containing=GITHUB_SECRET)


def test_shared_secret_refuses_a_request_without_the_header(client, shared_hook):
    assert_refused(client.post(shared_hook, json={}), "signature_missing")


def test_shared_secret_can_be_a_bearer_token_in_authorization(client, make_hook, make_secret):
    make_secret("bearer", GITHUB_SECRET)
    path = make_hook(webhook(verify={"scheme": "shared_secret", "connection": "bearer", "header": "Authorization",
                                     "prefix": "Bearer "}))["path"]

    assert client.post(path, json={}, headers={"Authorization": f"Bearer {GITHUB_SECRET}"}).status_code == 202
    assert client.post(path, json={}, headers={"Authorization": GITHUB_SECRET}).status_code == 401


# --- HMAC-SHA256, GitHub style ------------------------------------------------------------------------------

def github_signature(body: bytes, secret: str = GITHUB_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
def github_hook(make_hook, make_secret) -> str:
    make_secret("github", GITHUB_SECRET)
    return make_hook(webhook(verify={"scheme": "hmac_sha256", "connection": "github",
                                     "header": "X-Hub-Signature-256", "prefix": "sha256="}))["path"]


def test_hmac_accepts_a_github_signed_delivery(client, github_hook):
    response = client.post(github_hook, data=BODY, content_type="application/json",
                           headers={"X-Hub-Signature-256": github_signature(BODY), "X-GitHub-Event": "issues"})

    assert response.status_code == 202
    headers = trigger_of(response)["headers"]
    assert headers["x-github-event"] == "issues"
    assert "x-hub-signature-256" not in headers


def test_hmac_refuses_a_tampered_body_without_revealing_the_expected_signature(client, github_hook):
    tampered = BODY.replace(b"7", b"8")

    response = client.post(github_hook, data=tampered, content_type="application/json",
                           headers={"X-Hub-Signature-256": github_signature(BODY)})

    assert_refused(response, "signature_mismatch", not_containing=github_signature(tampered)[7:])


def test_hmac_refuses_an_unsigned_request(client, github_hook):
    assert_refused(client.post(github_hook, data=BODY, content_type="application/json"), "signature_missing")


def test_hmac_refuses_a_signature_that_is_not_hex(client, github_hook):
    response = client.post(github_hook, data=BODY, content_type="application/json",
                           headers={"X-Hub-Signature-256": "sha256=zzzz"})

    assert_refused(response, "signature_malformed")


# --- HMAC-SHA256 over {timestamp}.{body}, base64 -----------------------------------------------------------

def timed_signature(body: bytes, timestamp: int) -> str:
    digest = hmac.new(GITHUB_SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@pytest.fixture
def timed_hook(make_hook, make_secret) -> str:
    make_secret("timed", GITHUB_SECRET)
    return make_hook(webhook(verify={"scheme": "hmac_sha256", "connection": "timed", "header": "X-Signature",
                                     "encoding": "base64", "timestamp_header": "X-Timestamp",
                                     "tolerance": "2m"}))["path"]


def test_timestamped_hmac_accepts_a_fresh_signed_request(client, timed_hook):
    now = int(time.time())
    response = client.post(timed_hook, data=BODY, content_type="application/json",
                           headers={"X-Signature": timed_signature(BODY, now), "X-Timestamp": str(now)})

    assert response.status_code == 202


def test_timestamped_hmac_refuses_a_request_older_than_the_tolerance(client, timed_hook):
    then = int(time.time()) - 180
    response = client.post(timed_hook, data=BODY, content_type="application/json",
                           headers={"X-Signature": timed_signature(BODY, then), "X-Timestamp": str(then)})

    assert_refused(response, "timestamp_stale")


def test_timestamped_hmac_refuses_a_replayed_signature_with_a_new_timestamp(client, timed_hook):
    then, now = int(time.time()) - 180, int(time.time())
    response = client.post(timed_hook, data=BODY, content_type="application/json",
                           headers={"X-Signature": timed_signature(BODY, then), "X-Timestamp": str(now)})

    assert_refused(response, "signature_mismatch")


def test_timestamped_hmac_refuses_a_missing_timestamp(client, timed_hook):
    response = client.post(timed_hook, data=BODY, content_type="application/json",
                           headers={"X-Signature": timed_signature(BODY, int(time.time()))})

    assert_refused(response, "signature_missing")


# --- the secret's connection -------------------------------------------------------------------------------

def test_the_connection_may_be_named_by_a_params_expression(client, make_hook, make_secret):
    make_secret("chosen", GITHUB_SECRET)
    path = make_hook(webhook(verify={"scheme": "shared_secret", "connection": "{{ params.secret }}"}),
                     params={"secret": "chosen"})["path"]

    assert client.post(path, json={}, headers={"X-Relay-Token": GITHUB_SECRET}).status_code == 202


def test_a_connection_deleted_after_publishing_is_503_and_nothing_is_stored(client, make_hook, make_secret):
    make_secret("gone", GITHUB_SECRET)
    path = make_hook(webhook(verify={"scheme": "shared_secret", "connection": "gone"}))["path"]
    db.session.execute(sa.delete(Connection).where(Connection.name == "gone"))
    db.session.commit()

    response = client.post(path, json={}, headers={"X-Relay-Token": GITHUB_SECRET})

    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "hook_misconfigured"
    assert "gone" in response.get_json()["error"]["message"]
    assert stored_executions() == []


def test_publishing_with_a_missing_verification_connection_is_refused(client, owner, make_hook):
    workflow = make_hook(webhook(verify={"scheme": "shared_secret", "connection": "gone"}), publish=False)
    response = client.post(f"/api/v1/workflows/{workflow['id']}/publish", headers=owner)
    assert response.status_code == 422
    assert response.get_json()["error"]["details"] == [{
        "path": "definition.trigger.verify.connection",
        "message": "connection 'gone' does not exist in this workspace",
    }]


def test_an_undecryptable_secret_is_503(client, make_hook, make_secret):
    make_secret("broken", GITHUB_SECRET)
    db.session.execute(sa.update(Connection).where(Connection.name == "broken").values(secrets="not-fernet"))
    db.session.commit()
    path = make_hook(webhook(verify={"scheme": "shared_secret", "connection": "broken"}))["path"]

    response = client.post(path, json={}, headers={"X-Relay-Token": GITHUB_SECRET})

    assert response.status_code == 503
    assert "decrypted" in response.get_json()["error"]["message"]
    assert stored_executions() == []


def test_standard_webhooks_with_a_secret_that_is_not_a_whsec_key_is_503(client, make_hook, make_secret):
    make_secret("plain", GITHUB_SECRET)
    path = make_hook(webhook(verify={"scheme": "standard_webhooks", "connection": "plain"}))["path"]

    response = client.post(path, data=BODY, headers=standard_headers(BODY))

    assert response.status_code == 503
    assert stored_executions() == []


def test_a_webhook_secret_connection_refuses_a_guessable_secret(client, owner):
    response = client.post("/api/v1/connections", headers=owner, json={
        "name": "weak", "connector": "webhook_secret", "fields": {"secret": "hunter2"}})

    assert response.status_code == 422
    assert [d["path"] for d in response.get_json()["error"]["details"]] == ["fields.secret"]
    assert "hunter2" not in response.get_data(as_text=True)


def test_a_random_secret_is_a_valid_webhook_secret(client, owner):
    response = client.post("/api/v1/connections", headers=owner, json={
        "name": "random", "connector": "webhook_secret", "fields": {"secret": secrets.token_urlsafe(32)}})

    assert response.status_code == 201
    assert response.get_json()["secrets"] == {"secret": True}
