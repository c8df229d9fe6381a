"""The access token, shared by every process through Redis.

WeChat rations access tokens, and its plain ``token`` endpoint invalidates the previous
token on every call, so every process must use the same one: it lives in Redis, and one
process at a time fetches it, under a Redis lock. When Redis is down each process keeps
its own token and carries on.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from redis.exceptions import LockError, LockNotOwnedError, WatchError
from redis.lock import Lock
from wechatpy.session import SessionStorage

from bot.redis_conn import degradable

log = logging.getLogger(__name__)
# Stop using a token this long before WeChat says it expires: stable_token hands out the
# next one during the old one's last five minutes.
TOKEN_MARGIN_S = 300
# A process reuses the token it last read from Redis for this long instead of reading it
# again for every call (a round trip per push). A token another process replaced meanwhile
# is refused once (40001), and the refresh then finds the replacement in Redis; one that
# merely reached its Redis expiry still has most of TOKEN_MARGIN_S to live at WeChat.
TOKEN_REUSE_S = 5.0
KEY_PREFIX = "aixiang:wechat"
_UNREACHABLE = object()


class SharedStorage(SessionStorage):
    """wechatpy's session storage in Redis, so all processes share one token (and jsapi
    ticket), with a process-local copy that stands in while Redis is unreachable."""

    def __init__(self, redis_client: redis.Redis, prefix: str = KEY_PREFIX) -> None:
        self._redis = redis_client
        self._prefix = prefix
        self._local: dict[str, tuple[Any, float]] = {}

    def _name(self, key: str) -> str:
        return f"{self._prefix}:{key}"

    def get(self, key: str, default: Any = None) -> Any:
        name = self._name(key)
        raw = degradable("read WeChat session", lambda: self._redis.get(name), _UNREACHABLE)
        if raw is _UNREACHABLE:
            value, expires_at = self._local.get(name, (default, 0.0))
            return value if expires_at > time.monotonic() else default
        return json.loads(raw) if isinstance(raw, str | bytes) else default

    def set(self, key: str, value: Any, ttl: int | None = None) -> None:
        name = self._name(key)
        self._local[name] = (value, time.monotonic() + ttl if ttl else math.inf)
        degradable(
            "store WeChat session",
            lambda: self._redis.set(name, json.dumps(value), ex=ttl),
            None,
        )

    def delete(self, key: str) -> None:
        name = self._name(key)
        self._local.pop(name, None)
        degradable("delete WeChat session", lambda: self._redis.delete(name), None)


class _TransactionalLock(Lock):
    """redis-py's Lock, released with WATCH/MULTI instead of a Lua script, because the
    embedded Redis substitute (fakeredis, in the demo and tests) has no Lua."""

    def do_release(self, expected_token: str | bytes) -> None:
        encoder = self.redis.get_encoder()
        with self.redis.pipeline() as pipe:
            try:
                pipe.watch(self.name)
                stored = pipe.get(self.name)
                if stored is None or encoder.encode(stored) != expected_token:
                    raise LockNotOwnedError(
                        "Cannot release a lock that's no longer owned", lock_name=self.name
                    )
                pipe.multi()
                pipe.delete(self.name)
                pipe.execute()
            except WatchError:
                raise LockNotOwnedError(
                    "The lock changed hands while being released", lock_name=self.name
                ) from None


@contextmanager
def refresh_lock(
    guard: threading.Lock, redis_client: redis.Redis, appid: str, timeout_s: float
) -> Iterator[None]:
    """Threads of this process queue on a local lock (``guard``), processes on a Redis
    lock; with Redis down only the local one holds, which is all a lone process needs."""
    with guard:
        lock = redis_client.lock(
            f"{KEY_PREFIX}:{appid}:token-refresh",
            timeout=timeout_s,
            sleep=0.05,
            blocking_timeout=timeout_s,
            lock_class=_TransactionalLock,
        )
        held = degradable("lock the WeChat token refresh", lock.acquire, None)
        if held is False:
            log.warning(
                "waited %.0fs for another process to refresh the WeChat token; fetching one here",
                timeout_s,
            )
        try:
            yield
        finally:
            if held:
                _release(lock)


def _release(lock: Lock) -> None:
    try:
        degradable("unlock the WeChat token refresh", lock.release, None)
    except LockError:
        log.warning("the WeChat token refresh lock expired before the refresh finished")
