"""Invitations end to end: an owner invites through the members page (email through a real SMTP server, or a
link to copy) or the API; the invited person follows the link as a browser would, with a new account, an
existing one, or signed in as someone else; expired, reused, revoked and tampered links explain themselves;
of concurrent acceptances exactly one wins."""

from __future__ import annotations

import email
import email.policy
import re
import threading
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from automation import invitations
from automation.connections import create_connection
from automation.models import Invitation, Membership, User, db, utcnow
from tests.connectors import conftest as connector_fixtures
from tests.web.conftest import PASSWORD, rows, submit
from tests.workspaces.conftest import audit_entries, role_of

start_smtp = connector_fixtures.start_smtp
BASE = "http://relay.test"
LINK = re.compile(re.escape(BASE) + r"(/invitations/[A-Za-z0-9_.\-]+)")
NEW_ACCOUNT = {"name": "Nina", "password": PASSWORD, "confirm": PASSWORD}


@pytest.fixture
def settings(settings: dict[str, Any]) -> dict[str, Any]:
    return {**settings, "RELAY_ALLOWED_HOSTS": "127.0.0.1", "RELAY_BASE_URL": BASE}


@pytest.fixture
def invite(client, team):
    """``invite(email, role)``: the path of a new invitation's link, created by the owner through the API."""

    def make(address: str = "nina@example.com", role: str = "editor") -> str:
        response = client.post("/api/v1/invitations", json={"email": address, "role": role},
                               headers=team.bearer["owner"])
        assert response.status_code == 201, response.get_json()
        return LINK.search(response.get_json()["link"]).group(1)

    return make


def invitation_of(app, address: str) -> Invitation:
    def read() -> Invitation:
        row = db.session.scalars(sa.select(Invitation).where(Invitation.email == address)
                                 .order_by(Invitation.id.desc())).first()
        db.session.expunge(row)
        return row

    return rows(app, read)


def test_an_invitation_emailed_through_a_connection_creates_the_account_it_was_sent_to(app, client, signed_in,
                                                                                         team, start_smtp):
    smtp = start_smtp()
    rows(app, lambda: create_connection(team.default_id, "Office mail", "smtp", smtp.fields()) and None)
    owner = signed_in("owner")

    sent = submit(owner, "/members/invite", {"email": "Nina@Example.com", "role": "approver",
                                             "delivery": "Office mail"}, form_path="/members")

    assert sent.status_code == 201
    assert "The invitation is on its way to nina@example.com" in sent.get_data(as_text=True)
    [envelope] = smtp.mailbox.received
    mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert (envelope.rcpt_tos, mail["Subject"]) == (["nina@example.com"], "You are invited to Default on Relay")
    path = LINK.search(mail.get_content()).group(1)
    assert path not in sent.get_data(as_text=True)

    visitor = app.test_client()
    assert 'data-state="new_account"' in visitor.get(path).get_data(as_text=True)
    joined = submit(visitor, path, NEW_ACCOUNT)

    assert (joined.status_code, joined.headers["Location"]) == (302, "/")
    assert role_of(app, "nina@example.com", team.default_id) == "approver"
    assert '<span class="role">approver</span>' in visitor.get("/").get_data(as_text=True)
    [invited] = audit_entries(app, "member.invite")
    [join] = audit_entries(app, "member.join")
    assert (invited["actor"], invited["after"]["email"]) == ("olga@example.com", "nina@example.com")
    assert (join["actor"], join["after"]["role"]) == ("nina@example.com", "approver")


def test_an_invitation_to_copy_is_shown_once_on_the_members_page(signed_in, team):
    owner = signed_in("owner")

    response = submit(owner, "/members/invite", {"email": "nina@example.com", "role": "viewer", "delivery": ""},
                      form_path="/members")

    page = response.get_data(as_text=True)
    link = re.search(r'data-copy="([^"]+/invitations/[^"]+)"', page).group(1)
    assert link.startswith(BASE + "/invitations/")
    later = owner.get("/members").get_data(as_text=True)
    assert link not in later and "nina@example.com" in later


def test_an_existing_account_signs_in_and_then_joins(app, invite, team):
    path = invite("otto@example.com", "viewer")
    visitor = app.test_client()

    offered = visitor.get(path).get_data(as_text=True)
    assert 'data-state="sign_in"' in offered
    signed = submit(visitor, f"/login?next={path}", {"email": "otto@example.com", "password": PASSWORD})
    assert signed.headers["Location"] == path
    assert 'data-state="confirm"' in visitor.get(path).get_data(as_text=True)
    joined = submit(visitor, path, {"action": "accept"})

    assert joined.status_code == 302
    assert role_of(app, "otto@example.com", team.default_id) == "viewer"
    assert role_of(app, "otto@example.com", team.acme_id) == "owner"


def test_someone_signed_in_with_another_email_is_told_and_offered_to_sign_out(app, invite, signed_in):
    path = invite("nina@example.com")
    other = signed_in("editor")

    refused = other.get(path)
    assert refused.status_code == 403
    assert "this invitation is for nina@example.com" in refused.get_data(as_text=True)
    signed_out = other.post(path, data={"action": "sign_out", "csrf_token": csrf_token_of(other, path)})

    assert signed_out.headers["Location"] == path
    assert 'data-state="new_account"' in other.get(path).get_data(as_text=True)
    assert role_of(app, "ed@example.com", invitation_of(app, "nina@example.com").workspace_id) == "editor"


def csrf_token_of(client, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


@pytest.mark.storage
def test_a_link_works_once(app, invite):
    path = invite()
    submit(app.test_client(), path, NEW_ACCOUNT)

    again = app.test_client().get(path)

    assert again.status_code == 410
    assert "already accepted; each link works once" in again.get_data(as_text=True)


def test_an_expired_link_says_when_it_expired(app, invite):
    path = invite()

    def expire() -> None:
        db.session.execute(sa.update(Invitation).values(expires_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()

    rows(app, expire)
    response = app.test_client().get(path)

    assert response.status_code == 410
    assert "This invitation has expired" in response.get_data(as_text=True)


def test_a_revoked_link_stops_working_and_the_revocation_is_audited(app, client, invite, team):
    path = invite()
    invitation_id = invitation_of(app, "nina@example.com").id

    revoked = client.delete(f"/api/v1/invitations/{invitation_id}", headers=team.bearer["owner"])

    assert (revoked.status_code, revoked.get_json()["status"]) == (200, "revoked")
    response = app.test_client().get(path)
    assert response.status_code == 410 and "withdrawn" in response.get_data(as_text=True)
    [entry] = audit_entries(app, "invitation.revoke")
    assert (entry["actor"], entry["target"]) == ("olga@example.com", str(invitation_id))


def test_a_tampered_link_is_refused(app, invite):
    path = invite()

    response = app.test_client().get(path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB"))

    assert response.status_code == 400
    assert "changed or cut short" in response.get_data(as_text=True)


def test_the_expiry_follows_relay_invitation_days(app, invite):
    invite()

    invitation = invitation_of(app, "nina@example.com")

    assert invitation.expires_at - invitation.created_at == timedelta(days=7)


def test_inviting_a_member_again_is_a_conflict_naming_the_email(client, team):
    response = client.post("/api/v1/invitations", json={"email": "ed@example.com", "role": "viewer"},
                           headers=team.bearer["owner"])

    assert response.status_code == 409
    assert response.get_json()["error"]["details"][0]["path"] == "email"


def test_a_bad_email_or_role_is_refused_naming_the_field(client, team):
    bad_email = client.post("/api/v1/invitations", json={"email": "nobody", "role": "viewer"},
                            headers=team.bearer["owner"])
    bad_role = client.post("/api/v1/invitations", json={"email": "a@example.com", "role": "boss"},
                           headers=team.bearer["owner"])

    assert (bad_email.status_code, bad_email.get_json()["error"]["details"][0]["path"]) == (422, "email")
    assert (bad_role.status_code, bad_role.get_json()["error"]["details"][0]["path"]) == (422, "role")


def test_invitations_are_for_owners_and_their_own_workspace(client, app, invite, team):
    invite()
    invitation_id = invitation_of(app, "nina@example.com").id

    assert client.get("/api/v1/invitations", headers=team.bearer["editor"]).status_code == 403
    assert client.delete(f"/api/v1/invitations/{invitation_id}",
                         headers=team.bearer["acme_owner"]).status_code == 404
    listed = client.get("/api/v1/invitations", headers=team.bearer["owner"]).get_json()["items"]
    assert [(i["email"], i["status"]) for i in listed] == [("nina@example.com", "pending")]
    assert "link" not in listed[0]


def test_a_failed_email_keeps_the_invitation_and_shows_its_link(client, team, closed_smtp):
    response = client.post("/api/v1/invitations", json={"email": "nina@example.com", "role": "viewer",
                                                        "connection": "Dead mail"}, headers=team.bearer["owner"])

    body = response.get_json()
    assert response.status_code == 201
    assert body["delivery"]["ok"] is False and body["delivery"]["error"]
    assert body["link"].startswith(BASE + "/invitations/")


@pytest.fixture
def closed_smtp(app, team) -> None:
    """An smtp connection "Dead mail" to a local port nothing listens on."""
    port = connector_fixtures._free_port()
    rows(app, lambda: create_connection(team.default_id, "Dead mail", "smtp", {
        "host": "127.0.0.1", "port": port, "security": "none", "from_address": "x@example.com"}) and None)


@pytest.mark.storage
def test_of_concurrent_acceptances_exactly_one_wins(app, invite, team):
    path = invite()
    token = path.rsplit("/", 1)[1]
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def accept() -> None:
        with app.app_context():
            found = invitations.read(token)
            barrier.wait()
            try:
                invitations.accept(found, None, name="Nina", password=PASSWORD)
                outcomes.append("joined")
            except (invitations.LinkProblem, invitations.InvitationError) as exc:
                outcomes.append(type(exc).__name__)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=accept) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes).count("joined") == 1 and len(outcomes) == 6
    assert rows(app, lambda: db.session.scalar(sa.select(sa.func.count()).select_from(User)
                                               .where(User.email == "nina@example.com"))) == 1
    assert rows(app, lambda: db.session.scalar(sa.select(sa.func.count()).select_from(Membership)
                                               .where(Membership.workspace_id == team.default_id))) == 5
    assert len(audit_entries(app, "member.join")) == 1
