"""Only one scheduler runs its jobs at a time; the others wait as standbys.

APScheduler's rule is that a job store is never shared by two running schedulers, and
our jobs are sweeps that should not run twice at once anyway. The leader holds a Redis
key with a short expiry and renews it; a standby that finds the key gone takes over, so a
dead leader is replaced within one expiry plus one poll (well under a minute).
"""

from __future__ import annotations

import logging
import uuid

import redis

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
    def __init__(self, client: redis.Redis, key: str = LEADER_KEY, lease_ms: int = LEASE_MS):
        self._redis = client
        self._key = key
        self._lease_ms = lease_ms
        self.identity = f"{uuid.uuid4().hex[:12]}"

    def acquire(self) -> bool:
        """Become leader if nobody is; True also when we already are."""
        if self._redis.set(self._key, self.identity, nx=True, px=self._lease_ms):
            log.info("scheduler %s is now the leader", self.identity)
            return True
        return self.renew()

    def renew(self) -> bool:
        """Extend our lease; False means someone else leads now (ours expired)."""
        return bool(self._redis.eval(_RENEW, 1, self._key, self.identity, str(self._lease_ms)))

    def release(self) -> None:
        self._redis.eval(_RELEASE, 1, self._key, self.identity)

    def holder(self) -> str | None:
        value = self._redis.get(self._key)
        return None if value is None else str(value)
