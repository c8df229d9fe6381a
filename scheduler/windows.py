"""WeChat's customer-service allowance per resident, shared by every worker.

Since 2023 an account may send a resident at most 5 customer-service messages within 48
hours of the resident's own message, and at most 3 within 1 minute of a menu tap, follow
or scan. The count lives in Redis, keyed by the interaction that opened the window, so a
new message from the resident opens a fresh allowance and all workers spend the same one.
"""

from __future__ import annotations

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

    def try_use(
        self, openid: str, opened_at: datetime | None, kind: str | None, now: datetime
    ) -> bool:
        """Spend one message of the allowance; False when the window is shut or spent."""
        if opened_at is None or not self.is_open(opened_at, kind, now):
            return False
        window, limit = window_for(kind)
        key = self._key(openid, opened_at)

        def spend() -> int:
            with self._redis.pipeline() as pipe:
                pipe.incr(key)
                pipe.expire(key, int(window.total_seconds()) + 60)
                used, _ = pipe.execute()
            return int(used)

        # Without Redis we cannot count; WeChat's own 45047 then tells us it is spent.
        return degradable("service window", spend, 1) <= limit

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
