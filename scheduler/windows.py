"""WeChat's customer-service allowance per resident, shared by every worker.

Since 2023 an account may send a resident at most 5 customer-service messages within 48
hours of the resident's own message, and at most 3 within 1 minute of a menu tap, follow
or scan. The count lives in Redis, keyed by the interaction that opened the window, so a
new message from the resident opens a fresh allowance and all workers spend the same one.
A window whose allowance is used up is also listed in one sorted set (:data:`SPENT_KEY`,
scored by when the window shuts), so a preview reads every spent window in one call
(scheduler/limits.py) rather than asking about each resident.

While Redis is out of reach each worker counts on its own, in memory, and remembers a
45047 (allowance spent) the same way; so a worker never hammers WeChat with messages it
already knows will be refused, though two workers may then together overspend until
WeChat's own 45047 tells each of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import redis

from bot.redis_conn import degradable
from models.push.channels import LONGEST_WINDOW, window_for, window_is_open, window_key

CS_PREFIX = "aixiang:cs:"
# The windows whose allowance is spent: members "openid:opened-at epoch s", scored by the
# epoch second the window shuts.
SPENT_KEY = "aixiang:cs:spent"


def spent_member(openid: str, opened_at: datetime) -> str:
    return f"{openid}:{window_key(opened_at)}"


# Each key's count after one more use, the key kept for its TTL (ARGV, in KEYS' order).
_SPEND = """
local used = {}
for i, key in ipairs(KEYS) do
    used[i] = redis.call('INCR', key)
    redis.call('EXPIRE', key, ARGV[i])
end
return used
"""


class ServiceWindow:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client
        self._spend = client.register_script(_SPEND)
        # The counts kept while Redis is unreachable: key -> (used, when the window shuts).
        self._local: dict[str, tuple[int, datetime]] = {}

    @staticmethod
    def _key(openid: str, opened_at: datetime) -> str:
        return CS_PREFIX + spent_member(openid, opened_at)

    def try_use_many(
        self, uses: Sequence[tuple[str, datetime | None, str | None]], now: datetime
    ) -> list[bool]:
        """Spend one message of the allowance for each (openid, opened_at, kind), in turn;
        False where the window is shut or spent.

        One round trip for a whole batch: the increments run in order in one script, so
        two pushes to one resident in a batch spend two messages, as two calls would. A
        script rather than a pipeline of INCR and EXPIRE: Redis takes it as one command,
        with one reply to read, where the pipeline's 200 commands and replies a batch
        cost the worker's planning more CPU than its claim.
        """
        open_windows: list[tuple[int, str, int, timedelta, datetime]] = []
        for index, (openid, opened_at, kind) in enumerate(uses):
            if opened_at is not None and window_is_open(opened_at, kind, now):
                window, limit = window_for(kind)
                key = self._key(openid, opened_at)
                open_windows.append((index, key, limit, window, opened_at + window))
        allowed = [False] * len(uses)
        if not open_windows:
            return allowed

        def spend() -> list[int]:
            keys = [key for _, key, _, _, _ in open_windows]
            ttls = [_ttl_s(window) for _, _, _, window, _ in open_windows]
            return [int(used) for used in self._spend(keys=keys, args=ttls)]

        counts = degradable("service window", spend, None)
        if counts is None:
            self._forget_shut(now)
            counts = [self._spend_locally(key, shuts) for _, key, _, _, shuts in open_windows]
        for (index, _, limit, _, _), used in zip(open_windows, counts, strict=True):
            allowed[index] = used <= limit
        spent = {
            key: shuts
            for (_, key, limit, _, shuts), used in zip(open_windows, counts, strict=True)
            if used >= limit
        }
        if spent:
            degradable("service window", lambda: self._list_spent(spent, now), None)
        return allowed

    def exhaust(
        self, openid: str, opened_at: datetime | None, kind: str | None, now: datetime
    ) -> bool:
        """WeChat said the allowance is spent (45047): stop trying it for this window.
        Answers whether that is now recorded (in Redis, else in this process's memory);
        a window with no known opening cannot be."""
        if opened_at is None:
            return False
        window, limit = window_for(kind)
        key = self._key(openid, opened_at)

        def store() -> bool:
            self._redis.set(key, limit + 1, ex=_ttl_s(window))
            self._list_spent({key: opened_at + window}, now)
            return True

        stored = degradable("service window", store, None)
        if stored is None:
            self._local[key] = (limit + 1, opened_at + window)
        return True

    def _list_spent(self, spent: dict[str, datetime], now: datetime) -> None:
        """Add the windows just used up to :data:`SPENT_KEY`, dropping those shut."""
        with self._redis.pipeline(transaction=False) as pipe:
            pipe.zadd(SPENT_KEY, {k.removeprefix(CS_PREFIX): _epoch(s) for k, s in spent.items()})
            pipe.zremrangebyscore(SPENT_KEY, "-inf", _epoch(now))
            pipe.expire(SPENT_KEY, _ttl_s(LONGEST_WINDOW))
            pipe.execute()

    def _spend_locally(self, key: str, shuts_at: datetime) -> int:
        """Count one use in this process's memory, for want of Redis."""
        used = self._local.get(key, (0, shuts_at))[0] + 1
        self._local[key] = (used, shuts_at)
        return used

    def _forget_shut(self, now: datetime) -> None:
        """Keep in memory only the windows still open."""
        for key in [key for key, (_, shuts_at) in self._local.items() if shuts_at <= now]:
            del self._local[key]


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _ttl_s(window: timedelta) -> int:
    """A count outlives its window by a minute, then Redis forgets it."""
    return int(window.total_seconds()) + 60
