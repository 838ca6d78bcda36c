"""A local HTTP server that records every request and answers from a script: the stand-in for Slack,
Twilio, Teams and webhook receivers in connector tests (the real SDKs are pointed at it)."""

from __future__ import annotations

import json
import socket
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode())


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | dict[str, Any] | list[Any] = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        if isinstance(self.body, dict | list):
            headers.setdefault("Content-Type", "application/json")
            return json.dumps(self.body).encode(), headers
        if isinstance(self.body, str):
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
            return self.body.encode(), headers
        return self.body, headers


class RecordingServer:
    """``with RecordingServer() as server:`` listens on 127.0.0.1 (or ``::1``) on a free port.

    Replies are taken from ``script`` in order (``server.reply(...)`` appends); when it is empty,
    ``default`` answers (a callable gets the recorded request, so a test can compute the answer).
    """

    def __init__(self, host: str = "127.0.0.1",
                 default: Reply | Callable[[Recorded], Reply] | None = None) -> None:
        self.requests: list[Recorded] = []
        self.script: deque[Reply] = deque()
        self.default = default or Reply(200, {"ok": True})
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                recorded = Recorded(self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()),
                                    body)
                reply = server._next(recorded)
                if reply.delay:
                    threading.Event().wait(reply.delay)
                payload, headers = reply.encoded()
                self.send_response(reply.status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
                pass

        family_server = type("Server", (ThreadingHTTPServer,), {"address_family": _family(host),
                                                                 "daemon_threads": True})
        self._httpd = family_server((host, 0), Handler)
        self.host = host
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def reply(self, *replies: Reply) -> None:
        with self._lock:
            self.script.extend(replies)

    def _next(self, recorded: Recorded) -> Reply:
        with self._lock:
            self.requests.append(recorded)
            if self.script:
                return self.script.popleft()
        return self.default(recorded) if callable(self.default) else self.default

    def __enter__(self) -> RecordingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _family(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
