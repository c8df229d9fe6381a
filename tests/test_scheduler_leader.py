"""Only one scheduler leads; a standby takes over when the leader's lease lapses."""

from __future__ import annotations

from typing import Any

import redis

from bot.services import Services
from bot.wechat.client import build_wechat_client
from scheduler import process
from scheduler.jobs import JobContext
from scheduler.leader import LEADER_KEY, LEASE_MS, LeaderLock
from scheduler.process import LeadOrStandBy

# Attributes read without a call to Redis, which work whether Redis is there or not.
LOCAL_ATTRIBUTES = frozenset({"connection_pool"})


class FlakyRedis:
    """A client that can lose its connection to Redis, as in a restart or a blip."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self.down = False

    def __getattr__(self, name: str) -> Any:
        if self.down and name not in LOCAL_ATTRIBUTES:
            raise redis.ConnectionError("Error 111 connecting to redis. Connection refused.")
        return getattr(self._client, name)


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


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


def test_an_outage_shorter_than_the_lease_keeps_the_leader(redis_client: redis.Redis) -> None:
    flaky, ticks = FlakyRedis(redis_client), Ticks()
    leader = LeaderLock(flaky, lease_ms=30_000, monotonic=ticks, call_timeout_s=1.0)  # type: ignore[arg-type]
    assert leader.acquire()
    flaky.down = True
    ticks.now += 28.5
    # Nobody can have taken the lead yet, and the next try could fail before anyone can.
    assert leader.renew() and leader.acquire()
    ticks.now += 2
    assert not leader.renew()  # our lease may have lapsed: stand by
    leader.release()  # no error either
    flaky.down = False
    assert leader.acquire()  # the lease never lapsed in Redis: still ours


class SlowToFail(FlakyRedis):
    """A Redis cut off by a partition: each call gives up only at its socket timeout."""

    def __init__(self, client: redis.Redis, ticks: Ticks, timeout_s: float) -> None:
        super().__init__(client)
        self._ticks = ticks
        self._timeout_s = timeout_s

    def __getattr__(self, name: str) -> Any:
        if self.down and name not in LOCAL_ATTRIBUTES:
            self._ticks.now += self._timeout_s
        return super().__getattr__(name)


def test_a_renewal_that_gives_up_after_the_lease_ended_does_not_keep_the_lead(
    redis_client: redis.Redis,
) -> None:
    ticks = Ticks()
    slow = SlowToFail(redis_client, ticks, timeout_s=1.0)
    leader = LeaderLock(slow, lease_ms=30_000, monotonic=ticks)  # type: ignore[arg-type]
    assert leader.acquire()
    slow.down = True
    ticks.now += 29.5
    assert not leader.renew()  # sent inside the lease, but answered after it ended


def test_a_renewal_that_failed_too_close_to_the_lease_end_gives_up_the_lead(
    redis_client: redis.Redis,
) -> None:
    """The next try could take the call timeout to fail, ending past the lease."""
    flaky, ticks = FlakyRedis(redis_client), Ticks()
    leader = LeaderLock(flaky, lease_ms=30_000, monotonic=ticks, call_timeout_s=1.0)  # type: ignore[arg-type]
    assert leader.acquire()
    flaky.down = True
    ticks.now += 29.5
    assert not leader.renew()


def test_the_call_timeout_is_the_clients_longest() -> None:
    client = redis.Redis(host="127.0.0.1", port=1, socket_timeout=0.5, socket_connect_timeout=2)
    assert LeaderLock(client).call_timeout_s == 2.0  # no connection is opened to find out
    assert LeaderLock(redis.Redis(host="127.0.0.1", port=1)).call_timeout_s == 0.0
    assert LeaderLock(client, call_timeout_s=3.0).call_timeout_s == 3.0


def test_a_standby_cut_off_from_redis_waits_without_failing(redis_client: redis.Redis) -> None:
    flaky = FlakyRedis(redis_client)
    flaky.down = True
    standby = LeaderLock(flaky)  # type: ignore[arg-type]
    assert not standby.acquire()
    assert not standby.renew()


def _scheduler_process(services: Services, client: Any, ticks: Ticks) -> LeadOrStandBy:
    """A scheduler whose Redis calls may take 1 s to fail, as with the production client."""
    ctx = JobContext(services, build_wechat_client(services.config, services.redis))
    return LeadOrStandBy(ctx, LeaderLock(client, monotonic=ticks, call_timeout_s=1.0))


def test_scheduler_survives_a_redis_outage_and_leads_again(services: Services) -> None:
    flaky, ticks = FlakyRedis(services.redis), Ticks()
    scheduler = _scheduler_process(services, flaky, ticks)
    try:
        assert scheduler.step() == process.RENEW_EVERY_S and scheduler.running is not None
        flaky.down = True
        assert scheduler.step() == process.RENEW_EVERY_S  # leads on inside its lease
        ticks.now += 31
        assert scheduler.step() == 0.0 and scheduler.running is None  # stands by
        assert scheduler.step() == process.STANDBY_POLL_S  # and keeps trying
        services.redis.delete(LEADER_KEY)  # Redis came back empty, as after a restart
        flaky.down = False
        assert scheduler.step() == process.RENEW_EVERY_S and scheduler.running is not None
    finally:
        scheduler.close()


def test_a_leader_cut_off_from_redis_stands_down_as_its_lease_ends(services: Services) -> None:
    """A standby may take the lead the moment the lease ends in Redis, so the leader must
    not sleep a whole RENEW_EVERY_S past that point before noticing."""
    flaky, ticks = FlakyRedis(services.redis), Ticks()
    scheduler = _scheduler_process(services, flaky, ticks)
    try:
        assert scheduler.step() == process.RENEW_EVERY_S
        flaky.down = True
        ticks.now += 25
        # 5 s of lease left; the last try is a call timeout (1 s) before it ends.
        assert scheduler.step() == 4.0 and scheduler.running is not None
        ticks.now += 4
        assert scheduler.step() == 0.0 and scheduler.running is None
    finally:
        scheduler.close()


def test_a_leader_whose_redis_calls_take_a_second_to_fail_stands_down_in_its_lease(
    services: Services,
) -> None:
    """Cut off by a partition, each renewal gives up only at its socket timeout: the
    leader must still have stopped its jobs by the time a standby may lead."""
    ticks = Ticks()
    slow = SlowToFail(services.redis, ticks, timeout_s=1.0)
    scheduler = _scheduler_process(services, slow, ticks)
    lease_end = ticks.now + LEASE_MS / 1000
    try:
        wait = scheduler.step()
        assert scheduler.running is not None
        slow.down = True
        steps = 0
        while scheduler.running is not None:
            steps += 1
            assert steps < 20
            ticks.now += wait
            wait = scheduler.step()
        assert ticks.now <= lease_end
    finally:
        scheduler.close()


def test_standby_takes_over_from_a_leader_cut_off_from_redis(services: Services) -> None:
    flaky, ticks = FlakyRedis(services.redis), Ticks()
    leader = _scheduler_process(services, flaky, ticks)
    standby = _scheduler_process(services, services.redis, ticks)
    try:
        leader.step()
        assert standby.step() == process.STANDBY_POLL_S and standby.running is None
        flaky.down = True
        services.redis.delete(LEADER_KEY)  # the leader's lease ran out in Redis
        ticks.now += 31
        assert standby.step() == process.RENEW_EVERY_S and standby.running is not None
        leader.step()
        assert leader.running is None  # it no longer leads: only one runs the jobs
    finally:
        leader.close()
        standby.close()
