"""Leader election for the scheduler: a Redis lock with expiry, and the leader's heartbeat.

The lock is ``SET key token NX PX ttl`` with a token unique to the process; the leader keeps it by
renewing before it expires, with a script that extends the expiry only while the key still holds its own
token (and releases with one that deletes only its own token), so a leader that stalled past the expiry
can neither extend nor delete the lock a standby has taken since. A standby takes over at most one
expiry after the leader stops renewing.

Keys carry the queue name (``RELAY_QUEUE``), which already separates deployments sharing one Redis.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import redis

# KEYS[1] lock, ARGV[1] token, ARGV[2] ttl in ms
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


def lock_key(queue: str) -> str:
    return f"relay:scheduler:{queue}:leader"


def heartbeat_key(queue: str) -> str:
    return f"relay:scheduler:{queue}:heartbeat"


def process_token() -> str:
    """``host:pid:uuid`` — unique per process, and says in logs and the heartbeat which process leads."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"


class LeaderLock:
    """The lock at ``key``, held by whoever set it with their token, for ``ttl`` seconds after each renewal."""

    def __init__(self, client: redis.Redis, key: str, ttl: float, token: str | None = None) -> None:
        self.client = client
        self.key = key
        self.ttl_ms = max(1, round(ttl * 1000))
        self.token = token or process_token()
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def acquire(self) -> bool:
        """Take the lock if nobody holds it; True also when this process already holds it (renewed)."""
        if self.client.set(self.key, self.token, nx=True, px=self.ttl_ms):
            return True
        return self.renew()

    def renew(self) -> bool:
        """Push the expiry out by ``ttl``; False when the lock expired or another process holds it now."""
        return bool(self._renew(keys=[self.key], args=[self.token, self.ttl_ms]))

    def release(self) -> bool:
        """Give the lock up so a standby takes over at once; False when it was not ours (any more)."""
        return bool(self._release(keys=[self.key], args=[self.token]))

    def holder(self) -> str | None:
        value = self.client.get(self.key)
        return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True)
class Heartbeat:
    leader: str
    at: datetime


def beat(client: redis.Redis, key: str, leader: str, ttl: float) -> None:
    """Record that ``leader`` is leading now; the key disappears ``ttl`` seconds after the last beat."""
    client.set(key, json.dumps({"leader": leader, "at": datetime.now(UTC).isoformat()}), px=max(1, round(ttl * 1000)))


def read_heartbeat(client: redis.Redis, key: str) -> Heartbeat | None:
    """The last beat of a leader, or None when no scheduler has led for a while (for /ready)."""
    raw = client.get(key)
    if raw is None:
        return None
    data = json.loads(raw)
    return Heartbeat(leader=data["leader"], at=datetime.fromisoformat(data["at"]))
