"""A worker killed mid-batch re-sends at most the sends it had not recorded yet: one in
flight and one waiting for its commit per sending thread."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Connection, select, text
from sqlalchemy.exc import OperationalError

from bot.services import Services
from models.push.outbox import OutboxMessage
from tests.conftest import FakeClock
from tests.pushes import add_resident, queue, sent_to

THREADS = 4


class Killed(BaseException):
    """The process died: nothing it does from now on reaches the database or WeChat."""


def test_a_killed_worker_re_sends_only_its_unrecorded_sends(
    make_worker, make_push_services, clock: FakeClock, fake_wechat
) -> None:
    services = make_push_services(push={"worker_threads": THREADS, "batch_size": 100})
    openids = [f"o-kill{i}" for i in range(40)]
    for openid in openids:
        add_resident(services, openid, last_seen=clock.now)
        queue(services, openid, f"kill:{openid}")
    killed = threading.Event()
    sessions = services.session_factory

    def session_unless_killed(**kwargs: Any) -> Any:
        if killed.is_set():
            raise Killed
        return sessions(**kwargs)

    doomed = make_worker(replace(services, session_factory=session_unless_killed))
    connect = doomed._recorder._connect

    def connect_unless_killed() -> Any:
        if killed.is_set():
            raise Killed
        return connect()

    doomed._recorder._connect = connect_unless_killed  # type: ignore[method-assign]
    send = doomed._sender.send
    done = Counter[str]()
    lock = threading.Lock()

    def send_then_die_after_ten(plan: Any, now: datetime) -> Any:
        if killed.is_set():
            raise Killed
        outcome = send(plan, now)
        with lock:
            done["sends"] += 1
            if done["sends"] == 10:
                killed.set()  # the 10th send and those in flight now are never recorded
        return outcome

    doomed._sender.send = send_then_die_after_ten  # type: ignore[method-assign]
    with pytest.raises(Killed):
        doomed.run_once()
    first = len(sent_to(fake_wechat, "message/custom/send"))
    assert 10 <= first < 10 + THREADS  # and nothing was sent after the kill
    clock.advance(seconds=services.config.push.lease_s + 1)  # the dead worker's lease ends
    survivor = make_worker(services)
    survivor.run_once()
    sends = Counter(c["body"]["touser"] for c in sent_to(fake_wechat, "message/custom/send"))
    assert set(sends) == set(openids)
    twice = [openid for openid, count in sends.items() if count > 1]
    # The 10th, and any other send in flight or waiting for its commit at the kill.
    assert 1 <= len(twice) <= 2 * THREADS
    with services.session_factory() as db:
        assert set(db.execute(select(OutboxMessage.status)).scalars()) == {"sent"}


def test_a_worker_whose_records_failed_goes_on_once_the_database_is_back(
    make_worker, clock: FakeClock, fake_wechat
) -> None:
    worker = make_worker(push={"worker_threads": THREADS})
    services = worker._services
    openids = [f"o-down{i}" for i in range(6)]
    for openid in openids:
        add_resident(services, openid, last_seen=clock.now)
        queue(services, openid, f"down:{openid}")
    connect = worker._recorder._connect

    def database_gone() -> Any:
        raise OperationalError("UPDATE outbox", {}, ConnectionError("connection refused"))

    worker._recorder._connect = database_gone  # type: ignore[method-assign]
    with pytest.raises(OperationalError):
        worker.process_batch()
    worker._recorder._connect = connect  # type: ignore[method-assign]
    clock.advance(seconds=services.config.push.lease_s + 1)
    assert worker.run_once() > 0  # the failure is not raised again
    with services.session_factory() as db:
        assert set(db.execute(select(OutboxMessage.status)).scalars()) == {"sent"}
    sends = Counter(c["body"]["touser"] for c in sent_to(fake_wechat, "message/custom/send"))
    assert set(sends) == set(openids)
    assert sum(sends.values()) - len(openids) <= 2 * THREADS


def test_a_recorder_whose_connection_died_records_on_a_new_one(
    make_worker, clock: FakeClock, fake_wechat
) -> None:
    """PostgreSQL restarted under the worker: the recorder's kept connection is dead, and
    the sends it is handed were taken by WeChat. They are recorded on a new connection,
    not left to go out again when their lease ends."""
    worker = make_worker(push={"worker_threads": THREADS})
    services = worker._services
    add_resident(services, "o-before", last_seen=clock.now)
    queue(services, "o-before", "restart:o-before")
    assert worker.run_once() == 1
    kill_connection(services, worker._recorder._connection)
    openids = [f"o-restart{i}" for i in range(6)]
    for openid in openids:
        add_resident(services, openid, last_seen=clock.now)
        queue(services, openid, f"restart:{openid}")
    worker.run_once()
    clock.advance(seconds=services.config.push.lease_s + 1)
    worker.run_once()
    sends = Counter(c["body"]["touser"] for c in sent_to(fake_wechat, "message/custom/send"))
    assert sends == Counter({"o-before": 1, **{openid: 1 for openid in openids}})
    with services.session_factory() as db:
        assert set(db.execute(select(OutboxMessage.status)).scalars()) == {"sent"}


def kill_connection(services: Services, connection: Connection) -> None:
    """End ``connection`` as a restart of the server would: PostgreSQL ends its backend;
    SQLite, a file, has no server, so the connection is closed under SQLAlchemy."""
    if connection.dialect.name != "postgresql":
        connection.connection.dbapi_connection.close()
        return
    backend = connection.connection.dbapi_connection.info.backend_pid
    with services.engine.connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
