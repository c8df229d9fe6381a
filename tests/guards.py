"""Guards that make a test's mistake loud instead of slow, flaky or silently costly.

``loopback_only`` (autouse, whole session): a test that connects anywhere but this
machine fails at once, naming the address. WeChat's API is the project's fake server on
127.0.0.1; a config that slipped back to the real ``api.weixin.qq.com`` would otherwise
hang on a sandbox's network or, worse, talk to Tencent. Subprocesses (gunicorn, Chromium,
the demo) are not watched, only this process and its threads.

``count_queries``: the SQL statements a block runs, to pin a hot path's count so a
change that adds a round trip per message shows up as a failing test, not in production.
``count_redis``: the same for the round trips to Redis.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest
import redis
from redis.client import Pipeline
from sqlalchemy import Engine, event

from models import driver_sql

LOCAL_NAMES = frozenset({"localhost"})


def is_local(address: object) -> bool:
    """Loopback (127.0.0.0/8, ::1, localhost) or a Unix socket's path; nothing else.

    A name other than localhost is refused before it is looked up: tests address their
    servers by IP, and a look-up of a real host is already a step outside.
    """
    if isinstance(address, str | bytes):
        return True
    if not isinstance(address, tuple) or not address:
        return False
    host = address[0]
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str):
        return False
    if host.lower() in LOCAL_NAMES:
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


def refuse_unless_local(address: object, how: str, sock: socket.socket | None = None) -> None:
    """Fail the running test when ``address`` is outside this machine. ``pytest.fail``
    raises a BaseException, so code that catches Exception (the worker's per-row error
    handling, Redis degradation) cannot swallow it; and clients close their socket only
    on OSError, so the refused socket is closed here, lest an unclosed-socket warning
    hide the message."""
    if not is_local(address):
        if sock is not None:
            sock.close()
        pytest.fail(
            f"{how} to {address!r}: tests may connect only to loopback (127.0.0.0/8, ::1)"
            " and Unix sockets; point the code at the fake WeChat server or a local service",
            pytrace=False,
        )


@pytest.fixture(scope="session", autouse=True)
def loopback_only() -> Iterator[None]:
    """Patch the public ways Python opens a connection: ``socket.socket.connect`` and
    ``connect_ex`` (which every client ends in) and ``socket.create_connection`` (to
    refuse a host name before DNS is asked)."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_create_connection = socket.create_connection

    def connect(self: socket.socket, address: Any) -> None:
        refuse_unless_local(address, "socket.connect", self)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        refuse_unless_local(address, "socket.connect_ex", self)
        return real_connect_ex(self, address)

    def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        refuse_unless_local(address, "socket.create_connection")
        return real_create_connection(address, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", connect)
        patch.setattr(socket.socket, "connect_ex", connect_ex)
        patch.setattr(socket, "create_connection", create_connection)
        yield


class Tally:
    """What a counting fixture hands out: ``with tally() as seen:`` lists what was
    recorded while the block ran."""

    def __init__(self) -> None:
        self._active: list[list[str]] = []

    def record(self, item: str) -> None:
        for seen in self._active:
            seen.append(item)

    @contextmanager
    def __call__(self) -> Iterator[list[str]]:
        seen: list[str] = []
        self._active.append(seen)
        try:
            yield seen
        finally:
            self._active.remove(seen)


CountQueries = Callable[[], AbstractContextManager[list[str]]]


@pytest.fixture
def count_queries(monkeypatch: pytest.MonkeyPatch) -> Iterator[CountQueries]:
    """``with count_queries() as statements:`` lists the SQL every engine sent meanwhile.

    SQLAlchemy's ``before_cursor_execute`` sees what goes through ``Connection.execute``
    (what a driver sends on its own, such as psycopg's BEGIN or a COMMIT, is not seen); on
    PostgreSQL the webhook's two per-delivery statements bypass it on psycopg's own
    cursor (models/driver_sql.py), as does the group commit's statement, so those are
    counted where they are run.
    """
    tally = Tally()

    def executed(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        tally.record(statement)

    real_first_row = driver_sql.first_row

    def first_row(connection: Any, statement: Any, values: Any) -> tuple[Any, ...] | None:
        tally.record(f"(psycopg cursor) {statement}")
        return real_first_row(connection, statement, values)

    monkeypatch.setattr(driver_sql, "first_row", first_row)
    event.listen(Engine, "before_cursor_execute", executed)
    try:
        yield tally
    finally:
        event.remove(Engine, "before_cursor_execute", executed)


CountRedis = Callable[[], AbstractContextManager[list[str]]]


@pytest.fixture
def count_redis(monkeypatch: pytest.MonkeyPatch) -> Iterator[CountRedis]:
    """``with count_redis() as commands:`` lists the round trips any Redis client of this
    process made meanwhile: a command's name (EVALSHA for a script), or PIPELINE. Loading
    a script the server did not have yet is left out: it happens once per server."""
    tally = Tally()
    real_command, real_pipeline = redis.Redis.execute_command, Pipeline.execute

    def command(client: redis.Redis, *args: Any, **options: Any) -> Any:
        if str(args[0]).upper() != "SCRIPT LOAD":
            tally.record(str(args[0]).upper())
        return real_command(client, *args, **options)

    def pipeline(pipe: Pipeline, raise_on_error: bool = True) -> list[Any]:
        tally.record("PIPELINE")
        return real_pipeline(pipe, raise_on_error)

    monkeypatch.setattr(redis.Redis, "execute_command", command)
    monkeypatch.setattr(Pipeline, "execute", pipeline)
    yield tally
