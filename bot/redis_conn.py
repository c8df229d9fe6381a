"""The Redis connection, and the embedded in-process substitute for a machine without one.

Redis holds only what can be lost (dedupe claims, cached replies, flow drafts, the shared
access token, rate allowances), so callers that can do without it use :func:`degradable`
and carry on when it is down. Each time is counted by what was done without it (shown by
``GET /healthz``) and logged, one line per reason a minute.

A connection that Redis dropped (a restart, a failover, its idle timeout, CLIENT KILL) is
reopened and the command sent again, once, so a resident's draft survives the blip.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import fakeredis
import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from bot.config.sections import MEMORY_REDIS_URL
from bot.safe_log import OncePerInterval, held_back

log = logging.getLogger(__name__)

T = TypeVar("T")

# One in-process server per process, so every embedded client in the demo sees one keyspace.
_EMBEDDED_SERVER = fakeredis.FakeServer()
DEGRADED_LOG_INTERVAL_S = 60.0
# One retry heals a dropped connection; more would not fit WeChat's 5 s when Redis is
# really gone (each attempt may wait for a connect or a reply timeout).
RETRIES = 1
# Ping a connection idle this long before using it, rather than find it dead mid-command.
HEALTH_CHECK_INTERVAL_S = 30


def connect_redis(url: str) -> redis.Redis:
    """Open a client for ``url``; ``memory://`` gives the in-process substitute."""
    if url == MEMORY_REDIS_URL:
        log.warning(
            "using the in-process Redis substitute: fine for the demo and one process, "
            "not for production (set redis.url)"
        )
        return fakeredis.FakeRedis(server=_EMBEDDED_SERVER, decode_responses=True)
    # The options go to the pool, so every connection has them: the per-thread clients
    # (ThreadClients) share this pool. A retry can send a command twice when its reply
    # timed out; the webhook's commands are SETs and a claim whose repeat only makes the
    # message wait for its own reply, then be handled (the database keeps it once).
    # Connecting is retried too, inside each try of a command: an unreachable Redis costs
    # four 0.25 s connects a command, as the one 1 s connect it had before.
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=1.0,
        socket_connect_timeout=0.25,
        retry=Retry(ExponentialBackoff(cap=0.1, base=0.01), RETRIES),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
        health_check_interval=HEALTH_CHECK_INTERVAL_S,
    )


@dataclass(frozen=True)
class KeyWrite:
    """A write to one key, held back to travel with another round trip: ``value`` for
    ``ttl_s`` seconds, or the key deleted when ``value`` is None."""

    key: str
    value: str | None = None
    ttl_s: int = 0

    def apply(self, client: redis.Redis) -> None:
        """The write on its own round trip."""
        if self.value is None:
            client.delete(self.key)
        else:
            client.set(self.key, self.value, ex=self.ttl_s)


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


class Degradations:
    """How many times, since the process started, each kind of work went on without
    Redis; every time is logged, at most one line per reason a minute."""

    def __init__(self, lines: OncePerInterval | None = None) -> None:
        self._lines = lines or OncePerInterval(DEGRADED_LOG_INTERVAL_S)
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def report(self, what: str, exc: Exception) -> None:
        with self._lock:
            self._counts[what] += 1
        held = self._lines.admit(f"{what}: {type(exc).__name__}")
        if held is not None:
            log.warning(
                "Redis unavailable for %s (%s: %s); carrying on without it%s",
                what,
                type(exc).__name__,
                exc,
                held_back(held),
            )

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


degradations = Degradations()


def degradable(what: str, call: Callable[[], T], fallback: T) -> T:
    """Run a Redis call, or return ``fallback`` when Redis cannot be reached or refuses
    the command (out of memory, a failed snapshot, a read-only replica): either way the
    caller can carry on without it. A lock's own errors (LockError) and a bad argument
    (DataError) are not about Redis being there, and reach the caller."""
    try:
        return call()
    except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError) as exc:
        degradations.report(what, exc)
        return fallback
