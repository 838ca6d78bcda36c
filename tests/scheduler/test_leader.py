"""The leader lock on a real Redis: one holder at a time, only the holder renews or releases it, and an
expired lock goes to whoever asks next. The leader's heartbeat says who leads and since when."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import redis

from automation.leader import LeaderLock, beat, read_heartbeat

pytestmark = pytest.mark.storage


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def key(client: redis.Redis) -> Iterator[str]:
    key = f"relay:test-leader:{uuid.uuid4().hex}"
    yield key
    client.delete(key)


def test_only_one_process_acquires_the_lock(client, key):
    first, second = LeaderLock(client, key, ttl=5), LeaderLock(client, key, ttl=5)

    assert first.acquire() is True
    assert second.acquire() is False
    assert first.holder() == first.token


def test_the_holder_acquiring_again_keeps_the_lock(client, key):
    lock = LeaderLock(client, key, ttl=5)
    lock.acquire()

    assert lock.acquire() is True
    assert lock.holder() == lock.token


def test_each_process_has_its_own_token():
    assert LeaderLock(redis.Redis(), "k", ttl=1).token != LeaderLock(redis.Redis(), "k", ttl=1).token


def test_renewing_pushes_the_expiry_out_for_the_holder_only(client, key):
    holder, other = LeaderLock(client, key, ttl=1), LeaderLock(client, key, ttl=60)
    holder.acquire()
    client.pexpire(key, 100)

    assert other.renew() is False
    assert client.pttl(key) <= 100
    assert holder.renew() is True
    assert client.pttl(key) > 500


def test_an_expired_lock_goes_to_the_next_process_and_the_old_holder_cannot_renew_it(client, key):
    old, new = LeaderLock(client, key, ttl=0.2), LeaderLock(client, key, ttl=5)
    old.acquire()
    time.sleep(0.3)

    assert new.acquire() is True
    assert old.renew() is False
    assert new.holder() == new.token


def test_only_the_holder_releases_the_lock(client, key):
    holder, other = LeaderLock(client, key, ttl=5), LeaderLock(client, key, ttl=5)
    holder.acquire()

    assert other.release() is False
    assert holder.holder() == holder.token
    assert holder.release() is True
    assert holder.holder() is None
    assert other.acquire() is True


def test_the_heartbeat_names_the_leader_and_the_time_and_expires(client, key):
    before = datetime.now(UTC)
    beat(client, key, "host:42:abc", ttl=0.2)

    heartbeat = read_heartbeat(client, key)
    assert heartbeat is not None
    assert heartbeat.leader == "host:42:abc"
    assert before <= heartbeat.at <= datetime.now(UTC)
    time.sleep(0.3)
    assert read_heartbeat(client, key) is None
