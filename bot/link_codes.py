"""One-time codes that link a console account to a WeChat follower, kept in Redis.

The account's own console page asks for a code; the person sends "绑定 CODE" or "link
CODE" to the Official Account from their phone, and the chat handler
(handlers/linking.py) redeems it for the openid that sent it. A code is six digits,
lasts :data:`CODE_TTL_S`, works once (read and deleted in one transaction), and a new one
replaces the account's previous one. Guessing is bounded twice over: a follower may try
:data:`MAX_TRIES` codes per :data:`CODE_TTL_S` and an account may ask for
:data:`MAX_ISSUED` codes in that time, so a million codes cannot be walked through.

Without Redis no code is issued or redeemed (the person is asked to try again later);
linking is never the only way in, since an admin can set the openid with
``aixiang accounts link``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import redis

from bot.redis_conn import degradable
from handlers.context import Redemption

KEY_PREFIX = "aixiang:link"
CODE_TTL_S = 600
CODE_DIGITS = 6
MAX_TRIES = 5
MAX_ISSUED = 5
DEGRADED = "WeChat link codes"


class LinkCodes:
    """Issues and redeems link codes; ``client`` gives the Redis client to use (the
    webhook's per-thread one, or the console's shared one)."""

    def __init__(self, client: Callable[[], redis.Redis]) -> None:
        self._client = client

    def issue(self, account_id: int) -> str | None:
        """A new code for the account, replacing its previous one; None when the
        account asked too often lately or Redis cannot be reached."""

        def make() -> str | None:
            client = self._client()
            asked = _count(client, f"{KEY_PREFIX}:issued:{account_id}")
            if asked > MAX_ISSUED:
                return None
            code = _new_code(client, account_id)
            with client.pipeline(transaction=True) as pipe:
                pipe.get(f"{KEY_PREFIX}:account:{account_id}")
                pipe.set(f"{KEY_PREFIX}:account:{account_id}", code, ex=CODE_TTL_S)
                previous, _ = pipe.execute()
            if previous is not None and previous != code:
                client.delete(_code_key(previous))
            return code

        return degradable(DEGRADED, make, None)

    def redeem(self, code: str, openid: str) -> Redemption:
        """The account the code was issued for, the code used up; no account for a wrong,
        expired or used code, and ``refused`` once the follower tried too often lately
        (or Redis cannot be reached)."""

        def take() -> Redemption:
            client = self._client()
            if _count(client, f"{KEY_PREFIX}:tries:{openid}") > MAX_TRIES:
                return Redemption(None, refused=True)
            with client.pipeline(transaction=True) as pipe:
                pipe.get(_code_key(code.strip()))
                pipe.delete(_code_key(code.strip()))
                found, _ = pipe.execute()
            if found is None:
                return Redemption(None)
            client.delete(f"{KEY_PREFIX}:account:{found}")
            return Redemption(int(found))

        return degradable(DEGRADED, take, Redemption(None, refused=True))


def _code_key(code: str) -> str:
    return f"{KEY_PREFIX}:code:{code}"


def _count(client: redis.Redis, key: str) -> int:
    """One more in the count at ``key``, which lasts a code's lifetime from the first."""
    with client.pipeline(transaction=True) as pipe:
        pipe.set(key, 0, ex=CODE_TTL_S, nx=True)
        pipe.incr(key)
        _, counted = pipe.execute()
    return int(counted)


def _new_code(client: redis.Redis, account_id: int) -> str:
    """A random code no other account holds now."""
    while True:
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        if client.set(_code_key(code), str(account_id), ex=CODE_TTL_S, nx=True):
            return code
