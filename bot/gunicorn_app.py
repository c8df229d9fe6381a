"""The webhook under gunicorn: the app is built in each worker after fork.

Building after fork keeps database and Redis connections out of the master process, so
no two workers ever share a socket.
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker

from bot.app import create_app
from bot.config.sections import Config
from bot.console.warm import warm_console
from bot.heap import freeze_startup_objects
from bot.outage import note_arrival

WORKER_THREADS = 64
# How long one read of a request's head or body may wait for the client's next bytes.
CLIENT_READ_TIMEOUT_S = 2
# Connections a worker holds at once (in its threads or kept alive), and connections the
# kernel queues for it beyond those; WeChat gives up after 5 s, so a longer queue only
# holds requests nobody waits for any more.
WORKER_CONNECTIONS = 256
BACKLOG = 256
# How long the thread that answered a kept-alive connection waits for its next request
# before handing the connection back to the worker's main loop (ArrivalStampingWorker).
NEXT_REQUEST_WAIT_S = 0.02


class FlaskServer(BaseApplication):  # type: ignore[misc]
    """Gunicorn running a Flask app that ``build`` makes in each worker, after the fork."""

    def __init__(self, build: Callable[[], Flask], options: dict[str, Any]) -> None:
        self._build = build
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        app = self._build()
        freeze_startup_objects()
        return app


def server_options(host: str, port: int, workers: int) -> dict[str, Any]:
    """Gunicorn settings for the webhook; the benchmark's floor app runs with the same.

    Threaded workers (gthread): a message spends most of its time waiting on PostgreSQL
    and Redis, and a sync worker holds its whole process through each wait. In
    bench/webhook.py, 2 sync workers served 40 msgs/s where 2 workers of 4 threads served
    60-95 (8 threads: no better) on the same busy 2-core machine. Threads also keep a
    re-sent delivery, which waits up to 4 s for its first copy's reply (bot/dedupe.py),
    from stalling a whole worker.

    Slow clients: gthread gives a connection a thread as soon as its first bytes arrive
    (or for up to 5 s waiting for them), and reads its head and body there with blocking
    reads. So every read waits at most CLIENT_READ_TIMEOUT_S (``_bound_client_reads``),
    the webhook refuses a forged or stale query before reading the body (bot/webhook.py),
    and each worker has 64 threads rather than 4: idle ones cost little, and a client
    that stalls holds one for seconds instead of a quarter of the worker. That is enough
    for a few dozen stalled clients per worker; more need the buffering proxy that
    ``aixiang serve`` is meant to run behind (README.md, docs/nginx.conf.example).

    Each worker listens on a socket of its own (SO_REUSEPORT), and the kernel spreads new
    connections over them. On one shared socket, whichever worker won the accept kept the
    keep-alive connections it took: in bench/webhook.py one worker sometimes held all 16
    while the other sat idle, which caps the floor at one core (2,600 msgs/s against
    6,500) and the app at one worker's 4 threads (1,155 msgs/s with one worker, 1,250-1,480
    with two). The prices: a taken port no longer stops gunicorn (its workers would fail
    and be restarted forever), so ``aixiang serve`` checks the port first (bot/ports.py);
    and on a graceful reload, connections still queued on an old worker's socket are
    reset, and WeChat re-sends those deliveries.
    """
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": f"{__name__}.{ArrivalStampingWorker.__name__}",
        # gunicorn_h1c's C parser: Python's parsing of each request head was a tenth of
        # a served worker's CPU (bench/README.md).
        "http_parser": "fast",
        "threads": WORKER_THREADS,
        # WeChat gives up after 5 s; a request still running then is not worth finishing.
        "timeout": 30,
        "graceful_timeout": 10,
        "accesslog": None,
        "reuse_port": True,
        "worker_connections": WORKER_CONNECTIONS,
        "backlog": BACKLOG,
        "post_fork": _bound_client_reads,
        # gunicorn 27 otherwise listens on ~/.gunicorn/gunicorn.ctl, through which anyone
        # with the user's access can reload or stop the server; nothing here uses it.
        "control_socket_disable": True,
    }


class ArrivalStampingWorker(ThreadWorker):  # type: ignore[misc]
    """Gunicorn's gthread worker, noting when each request reached it (bot/outage.py),
    and serving a busy kept-alive connection's next request in the thread that served its
    last one.

    A request queues for a thread while all of them are busy, and WeChat's 5 s run from
    when it sent, not from when a thread took it up; the webhook drops one that waited
    past them without doing its work (WeChat has sent another copy by then). gthread hands
    a connection to its thread pool when it is accepted or, kept alive, has a new request.

    gthread gives every answered kept-alive connection back to its main loop, which waits
    for the next request and hands the connection to a thread again: two wake-ups of the
    main thread, a future and a pipe write per request, about a sixth of a served
    worker's CPU under load (py-spy, bench/README.md). A connection whose next request
    arrives within NEXT_REQUEST_WAIT_S (a proxy's or WeChat's busy connection) is served
    on by its thread instead; a quieter one goes back to the main loop as before. The
    wait holds a thread, not the CPU, and ends when the worker is told to stop.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.waiting = WaitingConnections()

    def enqueue_req(self, conn: Any) -> None:
        conn.aixiang_arrived = time.monotonic()
        self.waiting.add()
        super().enqueue_req(conn)

    def handle(self, conn: Any) -> Any:
        """Serve the connection's request, then its next ones while they come at once and
        no other connection waits for a thread (a busy connection must not keep one from
        the rest: those would wait past WeChat's 5 s)."""
        self.waiting.take()
        keep_alive = super().handle(conn)
        while (
            keep_alive is True
            and self.alive
            and not self.waiting.any()
            and _next_request_soon(conn.sock)
        ):
            conn.aixiang_arrived = time.monotonic()
            keep_alive = super().handle(conn)
        return keep_alive

    def handle_request(self, req: Any, conn: Any) -> Any:
        note_arrival(getattr(conn, "aixiang_arrived", time.monotonic()))
        return super().handle_request(req, conn)


class WaitingConnections:
    """How many connections the main loop handed to the thread pool that no thread has
    taken up yet."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0

    def add(self) -> None:
        with self._lock:
            self._count += 1

    def take(self) -> None:
        with self._lock:
            self._count -= 1

    def any(self) -> bool:
        return self._count > 0


def _next_request_soon(sock: socket.socket) -> bool:
    """Whether the client sends more (or closes) within NEXT_REQUEST_WAIT_S."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(NEXT_REQUEST_WAIT_S * 1000))


def _bound_client_reads(_arbiter: Any, worker: Any) -> None:
    """Give the worker's listening sockets a kernel receive timeout (SO_RCVTIMEO), which
    every connection accepted from them inherits. Gunicorn makes each accepted socket
    blocking without a timeout before reading from it, which leaves a kernel timeout in
    place: a read that waits longer fails, and the connection is closed."""
    timeout = struct.pack("@ll", CLIENT_READ_TIMEOUT_S, 0)
    for listener in worker.sockets:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeout)


def run_gunicorn(config: Config, host: str, port: int, workers: int) -> None:
    FlaskServer(lambda: _served_app(config), server_options(host, port, workers)).run()


def _served_app(config: Config) -> Flask:
    """The app one worker serves, its console's first-use work done (bot/console/warm.py)."""
    app = create_app(config, drain=True)
    warm_console(app)
    return app
