"""The Redis connection, and the embedded in-process substitute for a machine without one.

Redis holds only what can be lost (dedupe claims, cached replies, flow drafts, the shared
access token, rate allowances), so callers that can do without it use :func:`degradable`
and carry on when it is down, logging that once a minute rather than once a request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import fakeredis
import redis

from bot.config import MEMORY_REDIS_URL

log = logging.getLogger(__name__)

T = TypeVar("T")

# One in-process server per process, so every embedded client in the demo sees one keyspace.
_EMBEDDED_SERVER = fakeredis.FakeServer()
DEGRADED_LOG_INTERVAL_S = 60.0


def connect_redis(url: str) -> redis.Redis:
    """Open a client for ``url``; ``memory://`` gives the in-process substitute."""
    if url == MEMORY_REDIS_URL:
        log.warning(
            "using the in-process Redis substitute: fine for the demo and one process, "
            "not for production (set redis.url)"
        )
        return fakeredis.FakeRedis(server=_EMBEDDED_SERVER, decode_responses=True)
    return redis.Redis.from_url(
        url, decode_responses=True, socket_timeout=1.0, socket_connect_timeout=1.0
    )


class ThreadClients:
    """A client per thread, each holding one connection between calls, for the webhook.

    Through a shared client redis-py checks a connection out of its pool and back in
    around every command: two locks, a poll() system call to see that the socket is clean,
    and an event object. The webhook's gunicorn threads live as long as their worker, so
    each keeps its own connection instead. A connection that breaks is reopened on the
    next call, and one whose thread ends goes back to the pool.
    """

    def __init__(self, client: redis.Redis) -> None:
        self.shared = client
        self._local = threading.local()

    def __call__(self) -> redis.Redis:
        """This thread's client; connects on first use, so call it where Redis may fail."""
        client: redis.Redis | None = getattr(self._local, "client", None)
        if client is None:
            client = redis.Redis(
                connection_pool=self.shared.connection_pool, single_connection_client=True
            )
            self._local.client = client
        return client


class DegradationLog:
    """Says that Redis is unreachable at most once per interval, whatever the request rate."""

    def __init__(self, interval_s: float = DEGRADED_LOG_INTERVAL_S) -> None:
        self._interval_s = interval_s
        self._last = float("-inf")
        self._lock = threading.Lock()

    def report(self, what: str, exc: Exception) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last < self._interval_s:
                return
            self._last = now
        log.warning("Redis unavailable (%s: %s); carrying on without it", what, exc)


_degradation = DegradationLog()


def degradable(what: str, call: Callable[[], T], fallback: T) -> T:
    """Run a Redis call, or return ``fallback`` when Redis cannot be reached or refuses
    the command (out of memory, a failed snapshot, a read-only replica): either way the
    caller can carry on without it. A lock's own errors (LockError) and a bad argument
    (DataError) are not about Redis being there, and reach the caller."""
    try:
        return call()
    except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError) as exc:
        _degradation.report(what, exc)
        return fallback
