"""Concurrent deliveries' first looks share a Redis pipeline and still claim each
delivery once, also after Redis lost its scripts."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from bot.dedupe import DeliveryGuard
from bot.redis_conn import ThreadClients, connect_redis
from tests.test_redis_heal import own_redis

__all__ = ["own_redis"]  # the fixture: a redis-server of this module's own

THREADS = 16
COPIES = 4


def look_all(guard: DeliveryGuard, round_name: str) -> dict[str, int]:
    """Every thread looks at one of THREADS // COPIES deliveries at once; the claims each
    delivery got."""
    start = threading.Barrier(THREADS)

    def look(n: int) -> tuple[str, bool]:
        key = f"msg:{round_name}-{n % (THREADS // COPIES)}"
        start.wait()
        first = guard.first_look(str(n), f"{round_name}-{n}", key, f"aixiang:flow:o-{n}")
        return key, first.claimed

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = list(pool.map(look, range(THREADS)))
    claims: dict[str, int] = {}
    for key, claimed in outcomes:
        claims[key] = claims.get(key, 0) + claimed
    return claims


def test_concurrent_looks_claim_each_delivery_once(own_redis: str) -> None:
    """On a server of its own: flushing scripts would touch everyone on a shared one."""
    client = connect_redis(own_redis)
    guard = DeliveryGuard(ThreadClients(client), 60, 300)
    assert set(look_all(guard, "a").values()) == {1}
    client.script_flush()
    assert set(look_all(guard, "b").values()) == {1}
    guard.cache_reply("msg:a-0", "帮助")
    assert guard.first_look("x", "y", "msg:a-0", "aixiang:flow:o-0").cached_reply == "帮助"
    client.close()
