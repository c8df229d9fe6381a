"""The webhook under gunicorn: the app is built in each worker after fork.

Building after fork keeps database and Redis connections out of the master process, so
no two workers ever share a socket.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from bot.app import create_app
from bot.config import Config

WORKER_THREADS = 4


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
        return self._build()


def server_options(host: str, port: int, workers: int) -> dict[str, Any]:
    """Gunicorn settings for the webhook; the benchmark's floor app runs with the same.

    Threaded workers (gthread): a message spends most of its time waiting on PostgreSQL
    and Redis, and a sync worker holds its whole process through each wait. In
    bench/webhook.py, 2 sync workers served 40 msgs/s where 2 workers of 4 threads served
    60-95 (8 threads: no better) on the same busy 2-core machine. Threads also keep a
    re-sent delivery, which waits up to 4 s for its first copy's reply (bot/dedupe.py),
    from stalling a whole worker.

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
        "worker_class": "gthread",
        "threads": WORKER_THREADS,
        # WeChat gives up after 5 s; a request still running then is not worth finishing.
        "timeout": 30,
        "graceful_timeout": 10,
        "accesslog": None,
        "reuse_port": True,
        # gunicorn 27 otherwise listens on ~/.gunicorn/gunicorn.ctl, through which anyone
        # with the user's access can reload or stop the server; nothing here uses it.
        "control_socket_disable": True,
    }


def run_gunicorn(config: Config, host: str, port: int, workers: int) -> None:
    FlaskServer(lambda: create_app(config), server_options(host, port, workers)).run()
