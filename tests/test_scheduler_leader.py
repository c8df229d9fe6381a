"""Only one scheduler leads; a standby takes over when the leader's lease lapses."""

from __future__ import annotations

import redis

from scheduler.leader import LeaderLock


def test_one_leader_at_a_time(redis_client: redis.Redis) -> None:
    first, second = LeaderLock(redis_client), LeaderLock(redis_client)
    assert first.acquire()
    assert not second.acquire()
    assert first.acquire()  # the leader keeps leading
    assert first.renew() and not second.renew()
    assert first.holder() == first.identity


def test_standby_takes_over_when_the_leader_dies(redis_client: redis.Redis) -> None:
    leader, standby = LeaderLock(redis_client), LeaderLock(redis_client)
    assert leader.acquire()
    redis_client.delete("aixiang:scheduler:leader")  # the lease ran out: the leader died
    assert standby.acquire()
    assert not leader.renew()  # a leader that comes back finds it lost the lead


def test_release_hands_over_at_once(redis_client: redis.Redis) -> None:
    leader, standby = LeaderLock(redis_client), LeaderLock(redis_client)
    assert leader.acquire()
    standby.release()  # releasing a lock one does not hold changes nothing
    assert not standby.acquire()
    leader.release()
    assert standby.acquire()


def test_lease_expires_by_itself(redis_client: redis.Redis) -> None:
    leader = LeaderLock(redis_client, lease_ms=30_000)
    assert leader.acquire()
    ttl = redis_client.pttl("aixiang:scheduler:leader")
    assert 0 < ttl <= 30_000
