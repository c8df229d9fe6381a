"""Redis side of "never process a delivery twice, always answer it the same way".

WeChat re-sends a delivery it got no answer to within 5 s, up to three times, and a
captured plaintext URL (whose signature does not cover the body) could be replayed with
a new body. Redis is the fast path for both; the inbound table's unique key and stored
reply are the guard that holds when Redis is down.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bot.outage import Deadline
from bot.redis_conn import KeyWrite, ThreadClients, degradable

CLAIM_TTL_S = 600
WAIT_FOR_FIRST_S = 4.0
WAIT_STEP_S = 0.05
# What a copy that stops waiting for the first keeps of WeChat's 5 s to handle itself.
HANDLING_BUDGET_S = 1.0
# Kept when freshness checks are off, so replayed pairs are still caught for a while.
NONCE_TTL_WITHOUT_TOLERANCE_S = 300


# KEYS: the timestamp+nonce pair, the cached reply, the claim, the extra key.
# ARGV: the message key, the pair's TTL, the claim's TTL.
# Redis turns Lua's false (a missing key) into nil and true into 1.
_FIRST_LOOK = """
local first_use = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2])
if not first_use and redis.call('GET', KEYS[1]) ~= ARGV[1] then
    return {1, false, 0, false}
end
local cached = redis.call('GET', KEYS[2])
local claimed = redis.call('SET', KEYS[3], '1', 'NX', 'EX', ARGV[3])
return {0, cached, claimed and 1 or 0, redis.call('GET', KEYS[4])}
"""


# KEYS: the cached reply, the key written with it. ARGV: the reply, its TTL, then the
# other write: its value and TTL, or nothing to delete the key.
_CACHE_REPLY_AND_WRITE = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
if #ARGV == 2 then
    redis.call('DEL', KEYS[2])
else
    redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[4])
end
"""


@dataclass(frozen=True)
class FirstLook:
    """What Redis knows about a delivery before it is stored, and whether we claimed it;
    ``extra`` is the value at the caller's extra key (the sender's flow state)."""

    pair_reused: bool
    cached_reply: str | None
    claimed: bool
    extra: str | None = None


class DeliveryGuard:
    def __init__(
        self, clients: ThreadClients, reply_ttl_s: int, timestamp_tolerance_s: int
    ) -> None:
        self._client = clients
        self._reply_ttl_s = reply_ttl_s
        # A timestamp up to the tolerance ahead of our clock is accepted until the
        # tolerance after it: twice the tolerance from the pair's first use.
        self._nonce_ttl_s = 2 * timestamp_tolerance_s or NONCE_TTL_WITHOUT_TOLERANCE_S
        self._first_look = clients.shared.register_script(_FIRST_LOOK)
        self._cache_reply_and_write = clients.shared.register_script(_CACHE_REPLY_AND_WRITE)

    def first_look(self, timestamp: str, nonce: str, message_key: str, extra_key: str) -> FirstLook:
        """In one round trip: whether the timestamp+nonce pair came before with another
        message, the reply already cached for this message, the claim on handling it
        (True for the first copy; re-sends and concurrent copies get False), and the value
        at ``extra_key``, which the handling will need (one round trip fewer per message).

        One script rather than a pipeline of commands: Redis answers it as one command,
        which costs the webhook less to send and parse, and a replayed pair never takes
        the claim, so it cannot delay the real message.
        """
        keys = [
            f"aixiang:nonce:{timestamp}:{nonce}",
            f"aixiang:reply:{message_key}",
            f"aixiang:seen:{message_key}",
            extra_key,
        ]

        def look() -> FirstLook:
            reused, cached, claimed, extra = self._first_look(
                keys, [message_key, self._nonce_ttl_s, CLAIM_TTL_S], self._client()
            )
            return FirstLook(
                bool(reused),
                None if cached is None else str(cached),
                bool(claimed),
                None if extra is None else str(extra),
            )

        # Without Redis every copy is handled as if first; the inbound table's unique key
        # then keeps it to one.
        return degradable("nonce check, reply cache and claim", look, FirstLook(False, None, True))

    def cache_reply(self, message_key: str, reply: str, also: KeyWrite | None = None) -> None:
        """Cache the reply for re-sends, with ``also`` (the sender's flow, held back by
        bot/sessions.py HeldFlow) in the same round trip."""
        reply_key = f"aixiang:reply:{message_key}"

        def cache() -> None:
            client = self._client()
            if also is None:
                client.set(reply_key, reply, ex=self._reply_ttl_s)
                return
            args: list[str | int] = [reply, self._reply_ttl_s]
            if also.value is not None:
                args += [also.value, also.ttl_s]
            self._cache_reply_and_write([reply_key, also.key], args, client)

        degradable("reply cache", cache, None)

    def release(self, message_key: str) -> None:
        """Give up the claim of a copy that failed, so that WeChat's re-send is handled at
        once instead of waiting for a reply that will never come."""
        degradable("claim", lambda: self._client().delete(f"aixiang:seen:{message_key}"), None)

    def wait_for_reply(self, message_key: str, deadline: Deadline) -> str | None:
        """The first copy's reply, waiting while that copy is being handled. None, to
        handle this copy, when the first one failed (its claim released, and taken here)
        or the wait would leave too little of WeChat's deadline."""
        reply_key, claim_key = f"aixiang:reply:{message_key}", f"aixiang:seen:{message_key}"
        wait_s = min(WAIT_FOR_FIRST_S, deadline.remaining() - HANDLING_BUDGET_S)
        until = time.monotonic() + wait_s

        def look() -> tuple[str | None, bool]:
            pipe = self._client().pipeline(transaction=False)
            pipe.get(reply_key)
            pipe.set(claim_key, "1", nx=True, ex=CLAIM_TTL_S)
            reply, claimed = pipe.execute()
            return (None if reply is None else str(reply)), bool(claimed)

        while True:
            nothing: tuple[str | None, bool] = (None, True)
            reply, claimed = degradable("reply cache", look, nothing)
            if reply is not None or claimed or time.monotonic() >= until:
                return reply
            time.sleep(WAIT_STEP_S)
