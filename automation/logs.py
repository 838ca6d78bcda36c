"""Process logging: one handler on the root logger writing JSON lines or text (LOG_FORMAT) at LOG_LEVEL, and
the context each line carries: the correlation id, the execution, its workflow and the step.

The context lives in a contextvar. A web request binds its correlation id (automation/web/correlation.py),
ingest binds the execution it queues, and the worker binds the execution it runs with the correlation id
stored on the row, so one webhook-triggered run can be followed from the request to the worker. A record
factory copies the context onto every record when it is created, so every handler sees it (ours, gunicorn's,
Sentry's, pytest's) and a record formatted later or in another thread keeps the context it was logged in.

``configure`` is called once by each process entry point: gunicorn's ``app``, ``relay worker``, ``relay
scheduler``. Values reach the lines only as log messages put them: connection secrets are removed from
every record by automation/redaction.py before any handler sees it.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Protocol

FIELDS = ("correlation_id", "execution_id", "workflow_id", "step")
# Set on the handler configure() adds, so a second configure() replaces it instead of doubling every line.
HANDLER_MARK = "relay_handler"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s"

Context = Mapping[str, Any]
_EMPTY: Context = MappingProxyType({})
_context: ContextVar[Context] = ContextVar("relay_log_context", default=_EMPTY)
_install_lock = threading.Lock()
_installed = False


class ExecutionLike(Protocol):
    id: int
    workflow_id: int
    correlation_id: str


def bind(**values: Any) -> Token[Context]:
    """Add ``values`` (None ones are left out) to the context until ``unbind`` with the returned token."""
    return _context.set({**_context.get(), **{k: v for k, v in values.items() if v is not None}})


def unbind(token: Token[Context]) -> None:
    _context.reset(token)


@contextmanager
def bound(**values: Any) -> Iterator[None]:
    """``values`` in the context of every line logged inside the block."""
    token = bind(**values)
    try:
        yield
    finally:
        unbind(token)


def for_execution(execution: ExecutionLike) -> AbstractContextManager[None]:
    """The context of lines about one execution: its id, workflow and correlation id."""
    return bound(execution_id=execution.id, workflow_id=execution.workflow_id,
                 correlation_id=execution.correlation_id)


def correlation_id() -> str | None:
    """The correlation id bound to the current request or run, if any."""
    value = _context.get().get("correlation_id")
    return str(value) if value is not None else None


def install_context() -> None:
    """Copy the context onto every log record this process creates (idempotent)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        make_record = logging.getLogRecordFactory()

        def with_context(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = make_record(*args, **kwargs)
            record.relay_context = _context.get()
            return record

        logging.setLogRecordFactory(with_context)
        _installed = True


def _context_of(record: logging.LogRecord) -> Context:
    return getattr(record, "relay_context", _EMPTY)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, the context fields that are
    known, and the traceback as ``exception`` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({name: value for name, value in _context_of(record).items() if name in FIELDS})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:  # the redaction factory keeps only the cleaned text of a trace holding a secret
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The classic line, followed by the known context fields as ``name=value``."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        known = [f"{name}={value}" for name, value in _context_of(record).items() if name in FIELDS]
        if not known:
            return line
        first, newline, rest = line.partition("\n")  # keep a traceback below the line it belongs to
        return f"{first} [{' '.join(known)}]{newline}{rest}"


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure(config: Mapping[str, Any]) -> None:
    """Send every log line of this process to stderr in ``LOG_FORMAT`` at ``LOG_LEVEL``."""
    install_context()
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, HANDLER_MARK, False)]:
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    setattr(handler, HANDLER_MARK, True)
    handler.setFormatter(formatter(config["LOG_FORMAT"]))
    root.addHandler(handler)
    root.setLevel(config["LOG_LEVEL"])
