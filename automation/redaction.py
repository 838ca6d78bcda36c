"""Keeping saved secrets out of what Relay stores and prints: step inputs, outputs and errors are redacted
by value before they are written, and a logging filter removes every secret this process has decrypted.

Redaction is by value, not by key name, because a secret can reach a step log anywhere: pasted into a
message, echoed back in a response, or quoted inside a library's error text.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

REDACTED = "[redacted]"
# Shorter values would blank out ordinary words; secret fields are validated to be longer than this.
MIN_SECRET_LENGTH = 4
_MAX_REMEMBERED = 10_000


class Redactor:
    """Replaces each known secret value (and its URL-encoded form) with ``[redacted]``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values: set[str] = set()
        for secret in secrets:
            if isinstance(secret, str) and len(secret) >= MIN_SECRET_LENGTH:
                values.update({secret, quote(secret, safe=""), quote(secret)})
        # Longest first, so a secret containing another is replaced whole.
        self._values = sorted(values, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._values)

    def text(self, value: str) -> str:
        for secret in self._values:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value

    def redact(self, value: Any) -> Any:
        """``value`` with every secret replaced, wherever it occurs in nested dicts, lists and strings."""
        if not self._values:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.redact(k) if isinstance(k, str) else k: self.redact(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact(v) for v in value]
        return value


class _Remembered:
    """Every secret value this process has decrypted, for the log filter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, None] = {}
        self.redactor = Redactor()

    def add(self, values: Iterable[Any]) -> None:
        new = [v for v in values if isinstance(v, str) and len(v) >= MIN_SECRET_LENGTH and v not in self._values]
        if not new:
            return
        with self._lock:
            for value in new:
                self._values[value] = None
            while len(self._values) > _MAX_REMEMBERED:
                self._values.pop(next(iter(self._values)))
            self.redactor = Redactor(self._values)


remembered = _Remembered()


_install_lock = threading.Lock()
_installed = False


def install_log_redaction() -> None:
    """Redact every log record this process creates, whichever logger or handler it goes to.

    A record factory sees each record once, before any handler (RQ's, gunicorn's, Sentry's) formats it;
    filters on handlers would miss handlers that libraries add later.
    """
    global _installed
    with _install_lock:
        if _installed:
            return
        make_record = logging.getLogRecordFactory()

        def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = make_record(*args, **kwargs)
            redactor = remembered.redactor
            if redactor:
                _redact_record(record, redactor)
            return record

        logging.setLogRecordFactory(redacting_factory)
        _installed = True


def _redact_record(record: logging.LogRecord, redactor: Redactor) -> None:
    try:
        message = record.getMessage()
    except (TypeError, ValueError):  # a malformed format string; leave it for logging to report
        return
    cleaned = redactor.text(message)
    if cleaned != message:
        record.msg, record.args = cleaned, None
    if record.exc_info and record.exc_info[1] is not None:
        trace = logging.Formatter().formatException(record.exc_info)
        cleaned = redactor.text(trace)
        if cleaned != trace:  # keep exc_info (Sentry reads it) unless the trace itself holds a secret
            record.exc_text, record.exc_info = cleaned, None
