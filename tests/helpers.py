"""Helpers every kind of test shares, kept once: read-backs of what the database holds
after a test acted, local times as staff type them, a real HTTP server for an app, and
the real ``aixiang demo`` in a process of its own.

Each read-back opens a session of its own, so a test sees what was committed, as the
next request or worker batch would; the ``*_in`` forms read inside a session a test holds.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from bot.config.paths import PROJECT_ROOT
from bot.services import Services
from models.events.tables import Signup
from models.push.outbox import OutboxMessage
from models.residents import Resident


def count_in(db: Session, model: type, *where: Any) -> int:
    """How many rows of ``model`` match ``where``, as ``db`` sees them."""
    return int(db.execute(select(func.count()).select_from(model).where(*where)).scalar_one())


def count(services: Services, model: type, *where: Any) -> int:
    """How many committed rows of ``model`` match ``where``."""
    with services.session_factory() as db:
        return count_in(db, model, *where)


def resident(services: Services, openid: str) -> Resident:
    """The resident behind ``openid``; there must be exactly one."""
    with services.session_factory() as db:
        return db.execute(select(Resident).where(Resident.openid == openid)).scalar_one()


def signups(services: Services, event_id: int) -> list[Signup]:
    """An event's sign-ups in the order they were made, cancelled ones included."""
    with services.session_factory() as db:
        query = select(Signup).where(Signup.event_id == event_id).order_by(Signup.id)
        return list(db.execute(query).scalars())


def pushes_in(db: Session, kind: str | None = None) -> list[OutboxMessage]:
    """Outbox rows (of one ``kind``, or all) in the order they were queued."""
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if kind is not None:
        query = query.where(OutboxMessage.kind == kind)
    return list(db.execute(query).scalars())


def pushes(services: Services, kind: str | None = None) -> list[OutboxMessage]:
    """Committed outbox rows (of one ``kind``, or all) in the order they were queued."""
    with services.session_factory() as db:
        return pushes_in(db, kind)


# The club's time zone, the configuration's default: what staff type and residents read.
SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(delta: timedelta) -> str:
    """A local time ``delta`` from now, as staff type it on the command line."""
    return (datetime.now(SHANGHAI) + delta).strftime("%Y-%m-%dT%H:%M")


def free_port() -> int:
    """A loopback port nothing listens on right now, for a server in a subprocess."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """``app`` on a free port of a real threaded server (its root URL), as the demo runs
    it: for browsers, subprocesses and truly concurrent requests."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # A short poll interval makes shutdown() quick; it costs nothing while serving.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


@dataclass(frozen=True)
class RunningDemo:
    """A demo started by :func:`demo_process`: its page, its fake WeChat API, its data
    folder and what it printed, so tests can act on it as a person at the page would."""

    url: str
    fake_url: str
    data: Path
    output: list[str]

    @property
    def config(self) -> Path:
        return self.data / "demo.toml"

    def staff(self) -> CliRunner:
        """A runner whose commands use the demo's config, as README tells staff to."""
        return CliRunner(env={"AIXIANG_CONFIG": str(self.config)})


@contextmanager
def demo_process(folder: Path, *options: str) -> Iterator[RunningDemo]:
    """``aixiang demo`` with its data in ``folder``/instance, until SIGTERM at the end."""
    port, fake_port = [free_port() for _ in range(2)]
    # Relative paths are read from a config file's folder: the data goes beside it.
    config = folder / "config.toml"
    config.write_text("")
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "AIXIANG_CONFIG": str(config)}
    command = [sys.executable, "-m", "bot", "demo", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--fake-port", str(fake_port), *options],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    output: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if line.startswith("Aixiang demo: open"):
                break
        assert output and output[-1].startswith("Aixiang demo: open"), output
        yield RunningDemo(
            f"http://127.0.0.1:{port}", f"http://127.0.0.1:{fake_port}", folder / "instance", output
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        output.extend(process.stdout.read().splitlines(keepends=True))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def plan_index_names(node: Any) -> set[str]:
    """Every index an ``EXPLAIN (FORMAT JSON)`` plan reads, at any depth."""
    if isinstance(node, list):
        return set().union(*(plan_index_names(item) for item in node))
    if not isinstance(node, dict):
        return set()
    found = {node["Index Name"]} if "Index Name" in node else set()
    return found.union(*(plan_index_names(value) for value in node.values()))
