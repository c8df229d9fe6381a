"""Sign-in attempts counted in Redis: after too many failures a login name, or an
address, is refused for a while, whatever password comes next.

A login name is counted whether or not an account has it, so the lockout tells nobody
which names exist; it is kept as a hash, since people type passwords into the wrong box.
Each failure restarts the count's expiry, so the lock lasts ``window_s`` after the last
failure. Attempts refused while locked are not checked, and do not count.

Without Redis the console still signs people in (the count is lost, as everything Redis
holds may be): the outage is logged and counted at /healthz like the webhook's, and the
memory-hard password hash still limits guessing to a few tries a second per core.
"""

from __future__ import annotations

import hashlib
from typing import cast

import redis

from bot.redis_conn import degradable

KEY_PREFIX = "console:signin"
DEGRADED = "console sign-in lockout"


class SignInLockout:
    def __init__(
        self,
        client: redis.Redis,
        *,
        login_failures: int,
        address_failures: int,
        window_s: int,
    ) -> None:
        self._redis = client
        self._limits = {"login": login_failures, "address": address_failures}
        self._window_s = window_s

    def locked(self, login: str, address: str) -> bool:
        """Whether this name or this address has failed too often lately."""
        keys = self._keys(login, address)

        def read() -> bool:
            counts = cast(list[str | None], self._redis.mget(list(keys.values())))
            return any(
                int(count or 0) >= self._limits[kind]
                for kind, count in zip(keys, counts, strict=True)
            )

        return degradable(DEGRADED, read, False)

    def failed(self, login: str, address: str) -> None:
        def count() -> None:
            with self._redis.pipeline(transaction=False) as pipe:
                for key in self._keys(login, address).values():
                    pipe.incr(key)
                    pipe.expire(key, self._window_s)
                pipe.execute()

        degradable(DEGRADED, count, None)

    def succeeded(self, login: str) -> None:
        """A right password clears its name's count; the address's stays, or one account
        of one's own would reset the count of guesses at others'."""
        degradable(DEGRADED, lambda: self._redis.delete(self._keys(login, "")["login"]), None)

    def _keys(self, login: str, address: str) -> dict[str, str]:
        name = hashlib.sha256(login.strip().lower().encode()).hexdigest()[:32]
        return {
            "login": f"{KEY_PREFIX}:login:{name}",
            "address": f"{KEY_PREFIX}:address:{address}",
        }
