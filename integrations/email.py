"""Email over SMTP: the ``smtp`` connection and the ``email.send`` action, built with ``email.message`` and sent
with ``smtplib``. Owns checking addresses and headers before anything is sent, the retry-stable Message-ID,
and telling apart failures worth retrying, final ones, and ones after which the mail may have gone out."""

from __future__ import annotations

import email.utils
import re
import smtplib
import ssl
from collections.abc import Mapping
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any

from integrations.base import Action, CallContext, ConnectionField, ConnectionType, Connector, ConnectorError
from integrations.registry import register, register_connection_type

DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
MAX_RECIPIENTS = 100
# Characters RFC 5322 allows in the left part of a Message-ID; anything else in a step id is replaced.
_MSGID_UNSAFE = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]")

_ADDRESSES = {
    "anyOf": [{"type": "string", "minLength": 3},
              {"type": "array", "items": {"type": "string", "minLength": 3}, "minItems": 1,
               "maxItems": MAX_RECIPIENTS}],
}
SEND = Action(
    "send",
    "Send an email",
    {
        "type": "object",
        "properties": {
            "to": {**_ADDRESSES, "title": "To",
                   "description": "One address, several separated by commas, or a list; "
                                  "\"Ann Lee <ann@example.com>\" works too."},
            "cc": {**_ADDRESSES, "title": "Cc", "description": "Copy to these addresses; everyone sees them."},
            "bcc": {**_ADDRESSES, "title": "Bcc", "description": "Copy to these addresses without showing them."},
            "reply_to": {**_ADDRESSES, "title": "Reply to",
                         "description": "Where replies go, when not to the connection's sender."},
            "subject": {"type": "string", "minLength": 1, "maxLength": 900, "title": "Subject",
                        "description": "The subject line (one line)."},
            "text": {"type": "string", "minLength": 1, "title": "Plain text",
                     "description": "The body as plain text. Give this, html, or both."},
            "html": {"type": "string", "minLength": 1, "title": "HTML",
                     "description": "The body as HTML. With text as well, mail programs pick the one they show."},
        },
        "required": ["to", "subject"],
        "anyOf": [{"required": ["text"]}, {"required": ["html"]}],
        "additionalProperties": False,
    },
    {
        "type": "object",
        "properties": {
            "message_id": {"type": "string", "description": "the Message-ID header, the same on every retry"},
            "accepted": {"type": "array", "items": {"type": "string"},
                         "description": "recipients the server accepted"},
            "refused": {"type": "object", "additionalProperties": {"type": "string"},
                        "description": "recipients the server refused, with its answer"},
        },
    },
    description="Sends an email from the connection's sender address through its SMTP server.",
)


class Email(Connector):
    key = "email"
    title = "Email (SMTP)"
    connection_type = "smtp"
    actions = (SEND,)

    def run(
        self, action: str, inputs: dict[str, Any], connection: Mapping[str, Any] | None, context: CallContext
    ) -> dict[str, Any]:
        if action != "send":
            raise ConnectorError(f"email cannot run {action!r}")
        fields = connection or {}
        message, recipients = _message(_checked_inputs(inputs), fields, context.delivery_id)
        smtp = _session(fields, context.timeout)
        try:
            refused = _send(smtp, message, fields, recipients)
        except ConnectorError:
            # No QUIT: after a lost answer it would wait once more and could read the late reply to DATA.
            smtp.close()
            raise
        _quit(smtp)
        return {
            "message_id": str(message["Message-ID"]),
            "accepted": [r for r in recipients if r not in refused],
            "refused": {r: f"{code} {_text(reply)}" for r, (code, reply) in refused.items()},
        }


def _send(smtp: _SMTP | _SMTPS, message: EmailMessage, fields: Mapping[str, Any],
          recipients: list[str]) -> dict[str, tuple[int, bytes]]:
    """Send ``message``; the recipients the server refused while accepting others."""
    try:
        return smtp.send_message(message, from_addr=fields["from_address"], to_addrs=recipients)
    except smtplib.SMTPRecipientsRefused as exc:
        raise _refused_error(exc.recipients) from None
    except smtplib.SMTPException as exc:
        raise _smtp_error(exc, smtp.entered_data) from None
    except OSError as exc:
        raise _transport_error(exc, fields, smtp.entered_data) from None


def _checked_inputs(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """``inputs`` without unset (None) optional values, or a ``ConnectorError`` naming the first bad one."""
    present = {k: v for k, v in inputs.items() if v is not None}
    # The common mistakes get their own words; the schema catches the rest.
    if "from" in present:
        raise ConnectorError("from: the sender is the connection's from_address and cannot be changed per message")
    if "text" not in present and "html" not in present:
        raise ConnectorError("give the message a body: text, html or both")
    if isinstance(present.get("subject"), str) and ("\r" in present["subject"] or "\n" in present["subject"]):
        raise ConnectorError("subject: line breaks are not allowed in a subject")
    return SEND.checked_inputs(present)


def _addresses(value: str | list[str], what: str) -> list[Address]:
    """Every address in ``value`` (a comma-separated string or a list), or a ``ConnectorError`` naming a bad one."""
    found: list[Address] = []
    for item in [value] if isinstance(value, str) else value:
        # Refused outright: a line break in a header would let a value add headers of its own (Bcc, say).
        if "\r" in item or "\n" in item:
            raise ConnectorError(f"{what}: line breaks are not allowed in an address")
        for name, addr in email.utils.getaddresses([item]):
            try:
                address = Address(display_name=name, addr_spec=addr)
            except (ValueError, IndexError, HeaderParseError):
                address = None
            if address is None or not address.username or not address.domain:
                raise ConnectorError(f"{what}: {item[:100]!r} is not an email address like ann@example.com")
            found.append(address)
    if len(found) > MAX_RECIPIENTS:
        raise ConnectorError(f"{what}: at most {MAX_RECIPIENTS} addresses")
    return found


def _message(inputs: dict[str, Any], fields: Mapping[str, Any], delivery_id: str) -> tuple[EmailMessage, list[str]]:
    """The message and its envelope recipients (To, Cc and Bcc; Bcc is in no header)."""
    if not fields.get("from_address"):
        raise ConnectorError("this SMTP connection has no from_address")
    sender = _addresses(fields["from_address"], "the connection's from_address")[0]
    to = _addresses(inputs["to"], "to")
    cc = _addresses(inputs["cc"], "cc") if "cc" in inputs else []
    bcc = _addresses(inputs["bcc"], "bcc") if "bcc" in inputs else []
    message = EmailMessage()
    message["From"] = Address(display_name=fields.get("from_name") or "", addr_spec=sender.addr_spec)
    message["To"] = to
    if cc:
        message["Cc"] = cc
    if "reply_to" in inputs:
        message["Reply-To"] = _addresses(inputs["reply_to"], "reply_to")
    message["Subject"] = inputs["subject"]
    message["Date"] = email.utils.formatdate(localtime=True)
    # Derived from the delivery id alone, so every attempt of a step carries the same Message-ID and mail
    # systems can recognise a retry as the same message.
    message["Message-ID"] = f"<{_MSGID_UNSAFE.sub('-', delivery_id)}@{sender.domain}>"
    if "text" in inputs:
        message.set_content(inputs["text"])
        if "html" in inputs:
            message.add_alternative(inputs["html"], subtype="html")
    else:
        message.set_content(inputs["html"], subtype="html")
    recipients = list(dict.fromkeys(a.addr_spec for a in (*to, *cc, *bcc)))
    if len(recipients) > MAX_RECIPIENTS:
        raise ConnectorError(f"at most {MAX_RECIPIENTS} recipients in to, cc and bcc together")
    return message, recipients


class _Tracking:
    """Remembers whether DATA was started: from then on a lost answer may mean the message went out."""

    entered_data = False

    def data(self, msg: Any) -> tuple[int, bytes]:
        self.entered_data = True
        return super().data(msg)


class _SMTP(_Tracking, smtplib.SMTP):
    pass


class _SMTPS(_Tracking, smtplib.SMTP_SSL):
    pass


def _tls_context(fields: Mapping[str, Any]) -> ssl.SSLContext:
    # With ca_cert only that CA is trusted (an on-prem server's own CA); hostname checks stay on either way.
    try:
        return ssl.create_default_context(cadata=fields.get("ca_cert") or None)
    except (ssl.SSLError, ValueError):
        raise ConnectorError("ca_cert is not a PEM certificate (-----BEGIN CERTIFICATE----- ...)") from None


def _session(fields: Mapping[str, Any], timeout: float) -> _SMTP | _SMTPS:
    """A connected SMTP session, encrypted and logged in as the connection says."""
    if not fields.get("host"):
        raise ConnectorError("this SMTP connection has no host")
    security = fields.get("security") or "starttls"
    host, port = fields["host"], int(fields.get("port") or DEFAULT_PORTS.get(security, 587))
    context = _tls_context(fields) if security in ("tls", "starttls") else None
    smtp: _SMTP | _SMTPS | None = None
    try:
        if security == "tls":
            smtp = _SMTPS(host, port, timeout=timeout, context=context)
        else:
            smtp = _SMTP(host, port, timeout=timeout)
        smtp.ehlo()
        if security == "starttls":
            smtp.starttls(context=context)
            smtp.ehlo()
        if fields.get("username"):
            smtp.login(fields["username"], fields.get("password") or "")
    except smtplib.SMTPAuthenticationError as exc:
        _close(smtp)
        raise ConnectorError(f"login failed: the SMTP server refused user {fields['username']!r} "
                             f"({exc.smtp_code} {_text(exc.smtp_error)}); check the username and password") from None
    except smtplib.SMTPNotSupportedError:
        _close(smtp)
        raise ConnectorError(_unsupported(security)) from None
    except smtplib.SMTPException as exc:
        _close(smtp)
        raise _smtp_error(exc, entered_data=False) from None
    except OSError as exc:
        _close(smtp)
        raise _transport_error(exc, fields, entered_data=False) from None
    return smtp


def _close(smtp: smtplib.SMTP | None) -> None:
    if smtp is not None:
        smtp.close()


def _quit(smtp: smtplib.SMTP) -> None:
    # The work is done; a server that answers QUIT badly or not at all changes nothing about it.
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _unsupported(security: str) -> str:
    if security == "starttls":
        return "the SMTP server does not offer STARTTLS; set security to tls (port 465) or none"
    return "the SMTP server does not offer login (AUTH); remove the username or use an encrypted connection"


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", errors="replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())[:200]


def _refused_error(refused: Mapping[str, tuple[int, bytes]]) -> ConnectorError:
    named = "; ".join(f"{r}: {code} {_text(reply)}" for r, (code, reply) in list(refused.items())[:5])
    # 4xx on RCPT is temporary (greylisting, a full mailbox): the same message may be accepted later.
    temporary = all(400 <= code < 500 for code, _ in refused.values())
    return ConnectorError(f"the SMTP server refused every recipient ({named})", retryable=temporary)


def _smtp_error(exc: smtplib.SMTPException, entered_data: bool) -> ConnectorError:
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return _lost(entered_data)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return ConnectorError("the SMTP server cannot take non-ASCII addresses (no SMTPUTF8)")
    code = getattr(exc, "smtp_code", None)
    said = f"{code} {_text(getattr(exc, 'smtp_error', b''))}" if code else str(exc)
    if isinstance(exc, smtplib.SMTPSenderRefused):
        what = f"the SMTP server refused the sender {exc.sender} ({said})"
    elif isinstance(exc, smtplib.SMTPDataError):
        what = f"the SMTP server refused the message ({said})"
    else:
        what = f"the SMTP server answered {said}"
    temporary = isinstance(code, int) and 400 <= code < 500
    return ConnectorError(what + ("; try again later" if temporary else ""), retryable=temporary)


def _lost(entered_data: bool) -> ConnectorError:
    if entered_data:
        return ConnectorError("the SMTP server did not confirm the message in time; it may have been sent",
                              retryable=True, outcome_unknown=True)
    return ConnectorError("the SMTP server closed the connection or did not answer in time before the message "
                          "was sent", retryable=True)


def _transport_error(exc: OSError, fields: Mapping[str, Any], entered_data: bool) -> ConnectorError:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return ConnectorError(f"TLS failed: {exc.verify_message}; if the server uses a private CA, put its "
                              "certificate in the connection's ca_cert")
    if isinstance(exc, ssl.SSLError):
        return ConnectorError(f"TLS failed: {exc.reason or exc}; check that security matches the port "
                              "(tls for 465, starttls for 587)")
    if isinstance(exc, TimeoutError) or entered_data:
        return _lost(entered_data)
    return ConnectorError(f"could not connect to {fields.get('host')}: {exc.strerror or exc}", retryable=True)


def _validate(fields: Mapping[str, Any]) -> dict[str, str]:
    problems: dict[str, str] = {}
    if fields.get("username") and not fields.get("password"):
        problems["password"] = "required when a username is given"
    if fields.get("password") and not fields.get("username"):
        problems["username"] = "required when a password is given"
    try:
        _addresses(fields.get("from_address") or "", "from_address")
    except ConnectorError:
        problems["from_address"] = "must be one email address like alerts@example.com"
    if fields.get("from_name") and any(ch in fields["from_name"] for ch in "\r\n"):
        problems["from_name"] = "line breaks are not allowed"
    if fields.get("ca_cert"):
        try:
            _tls_context(fields)
        except ConnectorError as exc:
            problems["ca_cert"] = exc.message
    return problems


def _check(fields: Mapping[str, Any], timeout: float) -> str:
    security = fields.get("security") or "starttls"
    _quit(_session(fields, timeout))
    port = fields.get("port") or DEFAULT_PORTS.get(security, 587)
    how = {"starttls": "with STARTTLS", "tls": "over TLS", "none": "without encryption"}[security]
    login = f", logged in as {fields['username']}" if fields.get("username") else ""
    return f"connected to {fields.get('host')}:{port} {how}{login}"


register_connection_type(ConnectionType(
    "smtp",
    "SMTP email",
    (
        ConnectionField("host", "Server", required=True, description="The SMTP server's host name."),
        ConnectionField("port", "Port", {"type": "integer", "minimum": 1, "maximum": 65535},
                        description="Default: 587 with STARTTLS, 465 with TLS, 25 without encryption."),
        ConnectionField("security", "Encryption", {"type": "string", "enum": ["starttls", "tls", "none"],
                                                   "default": "starttls"},
                        description="starttls (port 587), tls (port 465) or none (only inside a trusted network)."),
        ConnectionField("username", "Username", description="Leave empty if the server does not ask for a login."),
        ConnectionField("password", "Password", secret=True, description="Required with a username."),
        ConnectionField("from_address", "From address", {"type": "string", "minLength": 3}, required=True,
                        description="Every message is sent from this address."),
        ConnectionField("from_name", "From name", description="Shown as the sender's name, e.g. Acme Alerts."),
        ConnectionField("ca_cert", "CA certificate",
                        description="PEM certificate of a private CA, for an on-premises server whose certificate "
                                    "public CAs did not sign. When set, only this CA is trusted."),
    ),
    _check,
    _validate,
    "An SMTP server and the address messages come from.",
))
register(Email())
