"""WeChat's customer-service allowance per resident, shared by every worker.

Since 2023 an account may send a resident at most 5 customer-service messages within 48
hours of the resident's own message, and at most 3 within 1 minute of a menu tap, follow
or scan. The count lives in Redis, keyed by the interaction that opened the window, so a
new message from the resident opens a fresh allowance and all workers spend the same one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import redis

from bot.redis_conn import degradable
from models.residents import INTERACTION_TAP

MESSAGE_WINDOW = timedelta(hours=48)
MESSAGE_LIMIT = 5
TAP_WINDOW = timedelta(minutes=1)
TAP_LIMIT = 3


def window_for(kind: str | None) -> tuple[timedelta, int]:
    return (TAP_WINDOW, TAP_LIMIT) if kind == INTERACTION_TAP else (MESSAGE_WINDOW, MESSAGE_LIMIT)


class ServiceWindow:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    @staticmethod
    def _key(openid: str, opened_at: datetime) -> str:
        return f"aixiang:cs:{openid}:{int(opened_at.timestamp())}"

    @staticmethod
    def is_open(opened_at: datetime | None, kind: str | None, now: datetime) -> bool:
        if opened_at is None:
            return False
        window, _ = window_for(kind)
        return now - opened_at < window

    def try_use_many(
        self, uses: Sequence[tuple[str, datetime | None, str | None]], now: datetime
    ) -> list[bool]:
        """Spend one message of the allowance for each (openid, opened_at, kind), in turn;
        False where the window is shut or spent.

        One round trip for a whole batch: the increments run in order in one pipeline, so
        two pushes to one resident in a batch spend two messages, as two calls would. The
        pipeline is not a MULTI/EXEC transaction: each INCR is atomic on its own, and a
        transaction would double the replies to read for nothing.
        """
        open_windows: list[tuple[int, str, int, int]] = []
        for index, (openid, opened_at, kind) in enumerate(uses):
            if opened_at is not None and self.is_open(opened_at, kind, now):
                window, limit = window_for(kind)
                ttl = int(window.total_seconds()) + 60
                open_windows.append((index, self._key(openid, opened_at), limit, ttl))
        allowed = [False] * len(uses)
        if not open_windows:
            return allowed

        def spend() -> list[int]:
            with self._redis.pipeline(transaction=False) as pipe:
                for _, key, _, ttl in open_windows:
                    pipe.incr(key)
                    pipe.expire(key, ttl)
                replies = pipe.execute()
            return [int(used) for used in replies[::2]]

        # Without Redis we cannot count; WeChat's own 45047 then tells us it is spent.
        counts = degradable("service window", spend, [1] * len(open_windows))
        for (index, _, limit, _), used in zip(open_windows, counts, strict=True):
            allowed[index] = used <= limit
        return allowed

    def exhaust(self, openid: str, opened_at: datetime | None, kind: str | None) -> None:
        """WeChat said the allowance is spent (45047): stop trying it for this window."""
        if opened_at is None:
            return
        window, limit = window_for(kind)
        key = self._key(openid, opened_at)
        degradable(
            "service window",
            lambda: self._redis.set(key, limit + 1, ex=int(window.total_seconds()) + 60),
            None,
        )
