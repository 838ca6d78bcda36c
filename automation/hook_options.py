"""The options of a webhook trigger: ``verify``, ``response`` and ``dedupe`` (docs/webhooks.md).

One reading serves both sides: ``check`` lists every problem with its path when a definition is saved, and
``read`` gives the typed options the ``/hooks`` endpoint acts on. The endpoint reads again rather than
trusting the save, because a version published before these rules existed may hold anything.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from automation.durations import DurationError, format_duration, parse_duration
from automation.expressions import Renderer

HOOK_KEYS = ("verify", "response", "dedupe")
SCHEMES = ("standard_webhooks", "shared_secret", "hmac_sha256")
ENCODINGS = ("hex", "base64")
MODES = ("accepted", "wait")
DEFAULT_SECRET_HEADER = "X-Relay-Token"
# The delivery-id headers senders use most: Standard Webhooks, the IETF Idempotency-Key draft, GitHub.
DEFAULT_DEDUPE_HEADERS = ("webhook-id", "Idempotency-Key", "X-GitHub-Delivery")
STANDARD_WEBHOOKS_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
DEFAULT_TOLERANCE = timedelta(minutes=5)
MAX_TOLERANCE = timedelta(hours=1)
MAX_WAIT_OPTION = timedelta(minutes=10)
MAX_PREFIX = 100
MAX_CONNECTION_NAME = 120
# An HTTP field name (RFC 9110 "token"), bounded so a definition cannot carry an absurd one.
HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")

_SCHEME_KEYS = {
    "standard_webhooks": frozenset({"scheme", "connection"}),
    "shared_secret": frozenset({"scheme", "connection", "header", "prefix"}),
    "hmac_sha256": frozenset({"scheme", "connection", "header", "prefix", "encoding", "timestamp_header",
                              "tolerance"}),
}


@dataclass(frozen=True)
class Verify:
    """How a request proves it comes from the sender. ``connection`` names a ``webhook_secret`` connection
    (it may be a ``{{ params.x }}`` expression); the secret itself never appears in a definition."""

    scheme: str
    connection: str
    header: str | None = None
    prefix: str = ""
    encoding: str = "hex"
    timestamp_header: str | None = None
    tolerance: timedelta = DEFAULT_TOLERANCE

    def signature_headers(self) -> frozenset[str]:
        """Lower-cased headers that carry the secret or a signature: never stored with a run, since a stored
        signature would let anyone who can read runs replay the request."""
        if self.scheme == "standard_webhooks":
            return frozenset({"webhook-signature"})
        return frozenset({self.header.lower()}) if self.header else frozenset()


@dataclass(frozen=True)
class Response:
    """``accepted``: answer 202 at once. ``wait``: answer with ``step``'s output if it is ready in time."""

    mode: str = "accepted"
    step: str | None = None
    timeout: timedelta | None = None


@dataclass(frozen=True)
class HookOptions:
    verify: Verify | None = None
    response: Response = field(default_factory=Response)
    dedupe_headers: tuple[str, ...] = DEFAULT_DEDUPE_HEADERS


class OptionsInvalid(ValueError):
    """The stored options cannot be used; ``problems`` lists ``(path, message)`` pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems))
        self.problems = problems


def check(trigger: Mapping[str, Any], step_ids: Collection[str], renderer: Renderer | None = None) -> list[
        tuple[str, str]]:
    """Every problem of the trigger's webhook options as ``(path, message)``; empty when they are usable."""
    return _Reader(step_ids, renderer or Renderer()).read(trigger)[1]


def top_step_ids(steps: Any) -> set[str]:
    """Ids of the top-level steps of a definition's (unvalidated) ``steps``: a wait response names one."""
    if not isinstance(steps, list):
        return set()
    return {s["id"] for s in steps if isinstance(s, Mapping) and isinstance(s.get("id"), str)}


def read(trigger: Mapping[str, Any], step_ids: Collection[str]) -> HookOptions:
    """The typed options of a webhook trigger.

    Raises:
        OptionsInvalid: the options have problems.
    """
    options, problems = _Reader(step_ids, Renderer()).read(trigger)
    if problems:
        raise OptionsInvalid(problems)
    return options


class _Reader:
    def __init__(self, step_ids: Collection[str], renderer: Renderer) -> None:
        self.step_ids = step_ids
        self.renderer = renderer
        self.problems: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def read(self, trigger: Mapping[str, Any]) -> tuple[HookOptions, list[tuple[str, str]]]:
        kind = trigger.get("type")
        if kind != "webhook":
            for key in HOOK_KEYS:
                if key in trigger and isinstance(kind, str):
                    self.add(f"trigger.{key}", f"only a webhook trigger has '{key}'")
            return HookOptions(), self.problems
        verify = self.verify(trigger["verify"]) if "verify" in trigger else None
        response = self.response(trigger["response"]) if "response" in trigger else Response()
        dedupe = self.dedupe(trigger["dedupe"]) if "dedupe" in trigger else DEFAULT_DEDUPE_HEADERS
        return HookOptions(verify, response, dedupe), self.problems

    def verify(self, spec: Any) -> Verify | None:
        where = "trigger.verify"
        if not isinstance(spec, Mapping):
            self.add(where, f"must be a mapping like {{scheme: hmac_sha256, connection: <name>, header: ...}}, "
                            f"not {_kind(spec)}")
            return None
        scheme = spec.get("scheme")
        if scheme not in SCHEMES:
            self.add(f"{where}.scheme", f"required: one of {', '.join(SCHEMES)}")
        else:
            for key in spec:
                if key not in _SCHEME_KEYS[scheme]:
                    self.add(f"{where}.{key}", f"unknown field for the {scheme} scheme")
        connection = self.connection(spec.get("connection"), f"{where}.connection")
        header = spec.get("header", DEFAULT_SECRET_HEADER if scheme == "shared_secret" else None)
        if scheme == "hmac_sha256" and header is None:
            self.add(f"{where}.header", "required: the header that carries the signature, such as "
                                        "X-Hub-Signature-256")
        elif header is not None:
            self.header_name(header, f"{where}.header")
        prefix = spec.get("prefix", "")
        if not isinstance(prefix, str) or len(prefix) > MAX_PREFIX or any(ch < " " for ch in prefix):
            self.add(f"{where}.prefix", f"must be one line of text of at most {MAX_PREFIX} characters, "
                                        "such as 'sha256='")
        encoding = spec.get("encoding", "hex")
        if encoding not in ENCODINGS:
            self.add(f"{where}.encoding", f"must be one of {', '.join(ENCODINGS)}")
        timestamp_header = spec.get("timestamp_header")
        if timestamp_header is not None:
            self.header_name(timestamp_header, f"{where}.timestamp_header")
        tolerance = DEFAULT_TOLERANCE
        if "tolerance" in spec:
            if timestamp_header is None:
                self.add(f"{where}.tolerance", "only used with a timestamp_header")
            tolerance = self.duration(spec["tolerance"], f"{where}.tolerance", MAX_TOLERANCE) or tolerance
        if scheme not in SCHEMES or connection is None:
            return None
        return Verify(scheme, connection, header, prefix if isinstance(prefix, str) else "",
                      encoding if encoding in ENCODINGS else "hex", timestamp_header, tolerance)

    def connection(self, value: Any, path: str) -> str | None:
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_CONNECTION_NAME:
            self.add(path, f"required: the name of a webhook_secret connection (at most {MAX_CONNECTION_NAME} "
                           "characters)")
            return None
        for problem in self.renderer.check(value, path):
            self.add(path, problem.partition(": ")[2])
        return value.strip()

    def header_name(self, value: Any, path: str) -> None:
        if not isinstance(value, str) or not HEADER_NAME.match(value):
            self.add(path, "must be an HTTP header name such as X-Signature")

    def response(self, spec: Any) -> Response:
        where = "trigger.response"
        if not isinstance(spec, Mapping):
            self.add(where, f"must be a mapping like {{mode: accepted}} or {{mode: wait, step: <id>, timeout: 10s}}, "
                            f"not {_kind(spec)}")
            return Response()
        mode = spec.get("mode", "accepted")
        if mode not in MODES:
            self.add(f"{where}.mode", f"must be one of {', '.join(MODES)}")
            return Response()
        if mode == "accepted":
            for key in spec:
                if key != "mode":
                    self.add(f"{where}.{key}", "only the wait mode has this field" if key in ("step", "timeout")
                             else "unknown field")
            return Response()
        for key in spec:
            if key not in ("mode", "step", "timeout"):
                self.add(f"{where}.{key}", "unknown field")
        step = spec.get("step")
        if not isinstance(step, str) or not step:
            self.add(f"{where}.step", "required: the id of the step whose output is the answer")
        elif step not in self.step_ids:
            self.add(f"{where}.step", f"no top-level step has the id {step!r}")
        timeout = self.duration(spec["timeout"], f"{where}.timeout", MAX_WAIT_OPTION) if "timeout" in spec else None
        return Response("wait", step if isinstance(step, str) else None, timeout)

    def dedupe(self, spec: Any) -> tuple[str, ...]:
        where = "trigger.dedupe"
        if spec is True:
            return DEFAULT_DEDUPE_HEADERS
        if spec is False:
            return ()
        if not isinstance(spec, Mapping) or set(spec) != {"header"}:
            self.add(where, "must be true (the default headers), false (no de-duplication) or "
                            "{header: <the sender's delivery-id header>}")
            return DEFAULT_DEDUPE_HEADERS
        self.header_name(spec["header"], f"{where}.header")
        return (spec["header"],) if isinstance(spec["header"], str) else DEFAULT_DEDUPE_HEADERS

    def duration(self, value: Any, path: str, maximum: timedelta) -> timedelta | None:
        try:
            duration = parse_duration(value)
        except DurationError as exc:
            self.add(path, str(exc))
            return None
        if not timedelta(0) < duration <= maximum:
            self.add(path, f"must be more than 0s and at most {format_duration(maximum)}")
            return None
        return duration


def _kind(value: Any) -> str:
    return {list: "a list", str: "text", type(None): "nothing"}.get(type(value), type(value).__name__)
