"""Signed links that approve or reject one approval task from an email or Slack message.

A link is ``/approvals/act/<token>``: an itsdangerous token, signed with the app's SECRET_KEY under its own
salt, over the task id, the decision, the member the link was sent to (who decides when it is used), a
random nonce (every notice carries links of its own) and the expiry. Nothing about a link is stored: it
stops working when the task stops being pending, which makes it single-use, and at its expiry.

Expiry: the end of the SLA (or the moment of sending, when the SLA has already passed, as with a reminder
or an escalation) plus ``GRACE``; without an SLA, ``NO_SLA_LIFETIME`` after sending. A later reminder
carries fresh links, so a pending task always has a working link in the newest message.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from automation.models import ApprovalTask, utcnow

SALT = "relay-approval"
DECISIONS = ("approve", "reject")
GRACE = timedelta(days=1)
NO_SLA_LIFETIME = timedelta(days=7)
# No link outlives this, whatever its expiry says: a backstop checked by itsdangerous on the signing time.
MAX_LIFETIME = timedelta(days=400)
PATH = "/approvals/act/"


class LinkRefused(Exception):
    """The token is not a valid approval link (tampered with, cut short, or not from this Relay)."""


class LinkExpired(LinkRefused):
    """A genuine link past its expiry; ``link`` says which task it was for."""

    def __init__(self, link: Link) -> None:
        super().__init__(f"this link expired at {link.expires_at:%Y-%m-%d %H:%M} UTC")
        self.link = link


@dataclass(frozen=True)
class Link:
    task_id: int
    decision: str
    recipient_id: int
    nonce: str
    expires_at: datetime


def expiry(task: ApprovalTask, now: datetime) -> datetime:
    if task.due_at is None:
        return now + NO_SLA_LIFETIME
    return max(task.due_at, now) + GRACE


def sign(task: ApprovalTask, decision: str, recipient_id: int, now: datetime | None = None) -> str:
    """A token deciding ``task`` as ``decision`` on behalf of the user ``recipient_id``."""
    if decision not in DECISIONS:
        raise ValueError(f"{decision!r} is not one of {DECISIONS}")
    expires = expiry(task, now or utcnow())
    return _serializer().dumps({"task": task.id, "decision": decision, "recipient": recipient_id,
                                "nonce": secrets.token_urlsafe(12), "exp": int(expires.timestamp())})


def read(token: str, now: datetime | None = None) -> Link:
    """The link ``token`` stands for.

    Raises:
        LinkExpired: a genuine link past its expiry.
        LinkRefused: anything else that is not a link signed by this Relay.
    """
    try:
        data: Any = _serializer().loads(token, max_age=int(MAX_LIFETIME.total_seconds()))
    except SignatureExpired:
        raise LinkRefused("this link is too old to be used") from None
    except BadSignature:
        raise LinkRefused("this link was changed or cut short, or is not a Relay approval link") from None
    link = _link(data)
    if (now or utcnow()) >= link.expires_at:
        raise LinkExpired(link)
    return link


def _link(data: Any) -> Link:
    """The signed payload as a Link; a payload of another shape was signed for something else."""
    try:
        if data["decision"] not in DECISIONS:
            raise ValueError(data["decision"])
        return Link(task_id=int(data["task"]), decision=str(data["decision"]), recipient_id=int(data["recipient"]),
                    nonce=str(data["nonce"]), expires_at=datetime.fromtimestamp(int(data["exp"]), UTC))
    except (KeyError, TypeError, ValueError):
        raise LinkRefused("this is not a Relay approval link") from None


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)
