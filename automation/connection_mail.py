"""Calling a connector action outside any run through a workspace's saved connection: invitation emails and
approval notices (email or Slack).

The email goes through the real ``email.send`` action under the outbound policy, as the approval notices in
automation/approval_notify.py do; a failure comes back as a ``ConnectorError`` whose message has the
connection's secrets redacted.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app

from automation import connections
from automation.actions import call_action
from automation.models import Connection, db
from integrations.base import CallContext, ConnectorError
from integrations.outbound import OutboundPolicy

CONNECTOR = "smtp"
ACTION = "email.send"


def smtp_connections(workspace_id: int) -> list[Connection]:
    """The workspace's connections an email can be sent through, by name."""
    return list(db.session.scalars(
        sa.select(Connection).where(Connection.workspace_id == workspace_id, Connection.connector == CONNECTOR)
        .order_by(Connection.name)
    ))


def send_email(workspace_id: int, connection: str, *, to: str, subject: str, text: str, message_key: str) -> None:
    """Send now. ``message_key`` is unique per message: the Message-ID is derived from it.

    Raises:
        ConnectorError: no such smtp connection, or the server's refusal (redacted).
    """
    call_through(workspace_id, connection, CONNECTOR, ACTION, {"to": to, "subject": subject, "text": text},
                 message_key=message_key)


def call_through(workspace_id: int, connection: str, connector: str, action: str, inputs: dict[str, Any], *,
                 message_key: str, execution_id: int = 0) -> None:
    """Call ``action`` once with a saved connection, outside any step. ``message_key`` stands in for the step
    id of a delivery id (email.send derives the Message-ID from it), so it is unique per message.

    Raises:
        ConnectorError: no such connection of that type, or the connector's own failure (redacted).
    """
    loaded = connections.load_for_step(workspace_id, connection, connector, action)
    config = current_app.config
    policy = OutboundPolicy.parse(config["RELAY_ALLOWED_HOSTS"])
    context = CallContext(execution_id=execution_id, step_id=message_key, attempt=1,
                          timeout=float(config["RELAY_STEP_TIMEOUT"]),
                          max_response_bytes=int(config["RELAY_MAX_RESPONSE_BYTES"]))
    try:
        call_action(action, inputs, loaded.for_action(), context, policy)
    except ConnectorError as exc:
        raise ConnectorError(loaded.redactor.text(exc.message)) from None
