"""The webhook's gunicorn worker serves a busy kept-alive connection's next request in the
thread that served its last one, stamping each request's arrival afresh, and gives a
quiet connection back to its main loop (bot/gunicorn_app.py)."""

from __future__ import annotations

import importlib.util
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from gunicorn.workers.gthread import ThreadWorker

from bot import gunicorn_app
from bot.gunicorn_app import NEXT_REQUEST_WAIT_S, ArrivalStampingWorker, WaitingConnections


@dataclass
class Conn:
    sock: socket.socket
    aixiang_arrived: float = 0.0


@dataclass
class Served:
    """What gthread's own ``handle`` saw: each request's arrival stamp; it answers
    ``keep_alive`` for each (False for the last one it is to serve)."""

    keep_alive: list[bool]
    stamps: list[float] = field(default_factory=list)


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    server, client = socket.socketpair()
    yield server, client
    server.close()
    client.close()


def serve(
    monkeypatch: pytest.MonkeyPatch,
    conn: Conn,
    served: Served,
    alive: bool,
    others_waiting: int = 0,
) -> Any:
    def handled(self: ThreadWorker, handled_conn: Conn) -> bool:
        served.stamps.append(handled_conn.aixiang_arrived)
        time.sleep(0.001)
        return served.keep_alive.pop(0)

    monkeypatch.setattr(ThreadWorker, "handle", handled)
    worker = object.__new__(ArrivalStampingWorker)
    worker.alive = alive
    worker.waiting = WaitingConnections()
    # This connection, and the others the main loop handed over meanwhile.
    for _ in range(1 + others_waiting):
        worker.waiting.add()
    return worker.handle(conn)


def test_a_busy_connection_is_served_on_by_its_thread_each_request_stamped_afresh(
    monkeypatch: pytest.MonkeyPatch, pair: tuple[socket.socket, socket.socket]
) -> None:
    server, client = pair
    client.sendall(b"next request")
    served = Served([True, True, False])
    assert serve(monkeypatch, Conn(server, aixiang_arrived=1.0), served, alive=True) is False
    assert len(served.stamps) == 3
    assert served.stamps[0] == 1.0
    assert 1.0 < served.stamps[1] < served.stamps[2]


def test_a_quiet_connection_goes_back_to_the_main_loop_after_the_wait(
    monkeypatch: pytest.MonkeyPatch, pair: tuple[socket.socket, socket.socket]
) -> None:
    server, _ = pair
    served = Served([True])
    started = time.monotonic()
    assert serve(monkeypatch, Conn(server), served, alive=True) is True
    assert len(served.stamps) == 1
    assert time.monotonic() - started >= NEXT_REQUEST_WAIT_S


@pytest.mark.parametrize(
    ("alive", "others_waiting"),
    [
        pytest.param(False, 0, id="the worker is stopping"),
        # Else a busy connection would keep its thread from the connections behind it.
        pytest.param(True, 1, id="another connection waits for a thread"),
    ],
)
def test_a_ready_next_request_goes_back_to_the_main_loop_when(
    alive: bool,
    others_waiting: int,
    monkeypatch: pytest.MonkeyPatch,
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server, client = pair
    client.sendall(b"next request")
    served = Served([True])
    assert serve(monkeypatch, Conn(server), served, alive, others_waiting) is True
    assert len(served.stamps) == 1


def test_the_server_parses_request_heads_with_gunicorns_c_parser() -> None:
    """Python's parsing of each head cost a tenth of a served worker's CPU."""
    options = gunicorn_app.server_options("127.0.0.1", 8000, 2)
    assert options["http_parser"] == "fast"
    assert importlib.util.find_spec("gunicorn_h1c") is not None
