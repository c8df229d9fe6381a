"""A send-rate limit shared by every worker: a token bucket kept in Redis.

WeChat throttles an account as a whole, so per-process limits would add up to too much
when several workers run. The bucket refills continuously at ``rate`` tokens a second up
to ``burst``; taking a token is one atomic script, so workers never overspend between them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import cast

import redis

from bot.redis_conn import degradable

BUCKET_KEY = "aixiang:push:bucket"

_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local wanted = tonumber(ARGV[4])
local state = redis.call('hmget', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local granted = math.min(wanted, math.floor(tokens))
tokens = tokens - granted
redis.call('hset', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('expire', KEYS[1], math.ceil(burst / rate) + 60)
return granted
"""


class SendRateLimit:
    """``rate`` of 0 means no limit (benchmarks, tests). ``sleep`` is how the bucket waits
    without Redis (a test's clock may stand in)."""

    def __init__(
        self,
        client: redis.Redis,
        rate: float,
        burst: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._redis = client
        self.rate = rate
        self._burst = burst if burst is not None else max(1.0, rate)
        self._sleep = sleep

    def take(self, wanted: int) -> int:
        """How many of ``wanted`` sends may go now (0..wanted)."""
        if self.rate <= 0:
            return wanted
        asked_at = time.monotonic()
        granted = degradable(
            "send rate limit",
            lambda: self._redis.eval(
                _TAKE,
                1,
                BUCKET_KEY,
                *(str(arg) for arg in (self.rate, self._burst, time.time(), wanted)),
            ),
            # Without Redis each worker keeps to the whole rate on its own: safer than none.
            None,
        )
        if granted is None:
            return self._take_locally(wanted, time.monotonic() - asked_at)
        return int(cast(str, granted))

    def _take_locally(self, wanted: int, waited_s: float) -> int:
        """At most a second's worth of sends, after waiting for them at the whole rate.
        Never more: the caller checks (and renews) its lease between takes, and waiting
        for a whole batch at a low rate could outlast the lease, letting another worker
        take the batch over before a single send, again and again. The time the failed
        call to Redis took counts as waiting: a Redis that hangs until its timeout on
        every take would otherwise halve the rate."""
        granted = min(wanted, max(1, math.ceil(self.rate)))
        self._sleep(max(0.0, granted / self.rate - waited_s))
        return granted
