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
    }


def run_gunicorn(config: Config, host: str, port: int, workers: int) -> None:
    FlaskServer(lambda: create_app(config), server_options(host, port, workers)).run()
