"""The webhook's per-thread Redis clients: one connection a thread, reused, and Redis down
or refusing commands still degrades instead of failing."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import redis
from redis.exceptions import LockNotOwnedError

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


def raising(error: Exception) -> Callable[[], str]:
    def call() -> str:
        raise error

    return call


@pytest.mark.parametrize(
    "refusal",
    [
        "OOM command not allowed when used memory > 'maxmemory'.",
        "MISCONF Redis is configured to save RDB snapshots, but it's unable to persist",
        "READONLY You can't write against a read only replica.",
    ],
)
def test_a_redis_that_refuses_commands_degrades_like_one_that_is_down(refusal: str) -> None:
    """Full, unable to snapshot, or a replica: the webhook and the workers carry on
    without it, as they do when it is unreachable."""
    assert degradable("test", raising(redis.ResponseError(refusal)), "fallback") == "fallback"


def test_errors_that_are_not_about_redis_being_there_reach_the_caller() -> None:
    with pytest.raises(LockNotOwnedError):
        degradable("test", raising(LockNotOwnedError("lock expired")), "fallback")
    with pytest.raises(redis.DataError):
        degradable("test", raising(redis.DataError("bad argument")), "fallback")
