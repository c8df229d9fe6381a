"""The webhook's per-thread Redis clients: one connection a thread, reused, and Redis down
still degrades instead of failing."""

from __future__ import annotations

import threading

import redis

from bot.redis_conn import ThreadClients, degradable
from bot.services import Services


def test_a_thread_keeps_its_client_and_another_thread_gets_its_own(services: Services) -> None:
    clients = ThreadClients(services.redis)
    mine = clients()
    assert clients() is mine
    theirs: list[redis.Redis] = []
    worker = threading.Thread(target=lambda: theirs.append(clients()))
    worker.start()
    worker.join()
    assert theirs[0] is not mine
    mine.set("aixiang:test:thread", "1", ex=60)
    assert theirs[0].get("aixiang:test:thread") == "1"


def test_without_redis_a_call_degrades_and_the_next_one_tries_again() -> None:
    clients = ThreadClients(redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1))
    assert degradable("test", lambda: clients().get("k"), "fallback") == "fallback"
    assert degradable("test", lambda: clients().get("k"), "fallback") == "fallback"
