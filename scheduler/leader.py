"""Only one scheduler runs its jobs at a time; the others wait as standbys.

APScheduler's rule is that a job store is never shared by two running schedulers, and
our jobs are sweeps that should not run twice at once anyway. The leader holds a Redis
key with a short expiry and renews it; a standby that finds the key gone takes over, so a
dead leader is replaced within one expiry plus one poll (well under a minute).

Redis may be out of reach for a while (a restart, a network blip). Nobody can take the
lead from us then, and nobody can until our last renewal's expiry has passed, so a leader
that cannot reach Redis keeps leading until that moment and stands by no later: as a call
to an unreachable Redis may take its socket timeout to fail, the leader asks for the last
time that long before the expiry. A standby that cannot reach Redis simply does not lead
yet. Either way the process keeps trying, logging the outage at most once a minute,
rather than dying of it.

A lock with an expiry cannot stop a leader that was frozen (SIGSTOP, a stalled VM) past
its lease: it wakes up with its jobs due and may run them before its next renewal says it
lost the lead. So each lead comes with a fencing token (:class:`Fence`, the counter in
models/leadership.py): a job starts only while the lease cannot have lapsed, and every
transaction of a job first checks, under a share lock on the token's row, that no newer
leader has taken a token since. A stale leader's job stops at its next transaction and
writes nothing; a transaction that checked just before the new leader took its token
commits before the new leader's first job starts.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

import redis
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from bot.redis_conn import degradable
from bot.services import Services
from models.db import make_session_factory
from models.leadership import take_token, token_is

log = logging.getLogger(__name__)

LEADER_KEY = "aixiang:scheduler:leader"
LEASE_MS = 30_000
# Renew at a third of the lease so a missed renewal or two does not lose the lease.
RENEW_EVERY_S = LEASE_MS / 1000 / 3
STANDBY_POLL_S = 10.0

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class LeaderLock:
    def __init__(
        self,
        client: redis.Redis,
        key: str = LEADER_KEY,
        lease_ms: int = LEASE_MS,
        monotonic: Callable[[], float] = time.monotonic,
        call_timeout_s: float | None = None,
    ):
        self._redis = client
        self._key = key
        self._lease_ms = lease_ms
        self._monotonic = monotonic
        # How long a call to Redis may take before it fails: the client's own timeouts
        # unless told otherwise. A renewal that fails must leave at least this long of
        # the lease for the next one to fail in, or the leader would lead past its lease.
        self.call_timeout_s = call_timeout(client) if call_timeout_s is None else call_timeout_s
        # Until when (on our monotonic clock) nobody else can have taken the lead: our
        # last successful acquire or renewal, timed from before it was sent, plus the lease.
        self._held_until = float("-inf")
        self.identity = f"{uuid.uuid4().hex[:12]}"

    def acquire(self) -> bool:
        """Become leader if nobody is; True also when we already are. With Redis out of
        reach, True only while a lease we hold cannot have lapsed."""
        started = self._monotonic()
        taken = degradable(
            "scheduler leader lock",
            lambda: self._redis.set(self._key, self.identity, nx=True, px=self._lease_ms),
            None,
        )
        if taken:
            self._held_until = started + self._lease_ms / 1000
            log.info("scheduler %s is now the leader", self.identity)
            return True
        return self.renew()

    def renew(self) -> bool:
        """Extend our lease; False means someone else leads now (ours expired), or Redis
        has been out of reach for so long that someone else may."""
        started = self._monotonic()
        renewed = degradable(
            "scheduler leader lock",
            lambda: self._redis.eval(_RENEW, 1, self._key, self.identity, str(self._lease_ms)),
            None,
        )
        if renewed is None:
            # Timed from when the failed call gave up, which may be a socket timeout later;
            # the next try may take as long to fail, so it must still fit in the lease.
            return self.lease_left_s() > self.call_timeout_s
        if renewed:
            self._held_until = started + self._lease_ms / 1000
            return True
        self._held_until = float("-inf")
        return False

    def lease_left_s(self) -> float:
        """How long nobody else can take the lead from us, by our last acquire or renewal
        (negative once it may have lapsed). A leader cut off from Redis must ask again
        by then, or it would go on leading after a standby took over."""
        return self._held_until - self._monotonic()

    def release(self) -> None:
        """Hand the lead over at once; with Redis out of reach it lapses by itself."""
        self._held_until = float("-inf")
        degradable(
            "scheduler leader lock",
            lambda: self._redis.eval(_RELEASE, 1, self._key, self.identity),
            None,
        )

    def holder(self) -> str | None:
        value = self._redis.get(self._key)
        return None if value is None else str(value)


def call_timeout(client: redis.Redis) -> float:
    """The longest a call through ``client`` may wait for Redis before failing: the larger
    of its socket and connect timeouts, 0 when it sets neither (an in-process client)."""
    pool = getattr(client, "connection_pool", None)
    kwargs: dict[str, object] = getattr(pool, "connection_kwargs", None) or {}
    timeouts = [kwargs.get("socket_timeout"), kwargs.get("socket_connect_timeout")]
    return max((float(t) for t in timeouts if isinstance(t, int | float)), default=0.0)


class Deposed(Exception):
    """This scheduler no longer leads, or cannot be sure it does: its jobs must stop."""


class Fence:
    """The fencing token of one lead, and sessions whose transactions check it.

    ``sessions`` is a session factory like the services' own, for the jobs of this lead:
    each transaction it begins first checks :meth:`check` and then the token in the
    database, and raises :class:`Deposed` instead of going on.
    """

    def __init__(self, lock: LeaderLock, services: Services) -> None:
        self._lock = lock
        self._services = services
        self.token: int | None = None
        self.sessions: sessionmaker[Session] = make_session_factory(services.engine)
        event.listen(self.sessions, "after_begin", self._check_transaction)

    def take(self) -> int:
        """Take the next token for this lead: every job of an earlier lead stops writing."""
        with self._services.session_factory() as db, db.begin():
            self.token = take_token(db, self._lock.identity, self._services.clock())
        log.info("scheduler %s holds fencing token %d", self._lock.identity, self.token)
        return self.token

    def check(self) -> None:
        """Raise Deposed unless this lead has a token and its lease cannot have lapsed
        (by this process's monotonic clock, which a frozen process sees jump)."""
        if self.token is None:
            raise Deposed(f"scheduler {self._lock.identity} has no fencing token")
        if self._lock.lease_left_s() <= 0:
            raise Deposed(f"scheduler {self._lock.identity}'s lease may have lapsed")

    def _check_transaction(
        self, _session: Session, _transaction: SessionTransaction, connection: Connection
    ) -> None:
        self.check()
        assert self.token is not None
        if not token_is(connection, self.token):
            raise Deposed(
                f"scheduler {self._lock.identity}'s token {self.token} is no longer current"
            )
