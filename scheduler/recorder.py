"""Write each send's outcome as soon as the send ends, in group commits.

A worker killed after sending a row but before recording it has that row sent again
when its lease runs out. So no sending thread starts its next send before the outcome
of its last one is committed: at any instant a worker has at most one unrecorded send
per thread, and a kill re-sends at most that many rows.

One commit per row would cost a transaction (and a disk flush) per push, and the worker
would fall behind WeChat's pace. Instead the sending threads hand their outcomes to one
recorder thread and wait; it writes everything handed over since its last commit in one
transaction (sent rows as one statement per channel) and wakes the threads it wrote for.
While it commits, the next group gathers, so a busy worker commits a few rows at a time
and an idle one commits each row at once. The recorder keeps one connection of its own
(no pool checkout and liveness ping per group; a connection that broke is replaced).

On PostgreSQL the recorder's connection commits with ``synchronous_commit = off``: a
commit returns once PostgreSQL has it in memory, without waiting for the disk, so a
sending thread waits a round trip instead of a disk flush; and a group of sent rows (the
common case) is one statement that commits by itself, one round trip. A killed worker
loses nothing by it (PostgreSQL has the commit); only a crash of PostgreSQL itself may
forget the outcomes of its last moments (at most three ``wal_writer_delay``, 0.6 s by
default), whose rows are then sent again when their lease runs out: a duplicate, never
a loss.
"""

from __future__ import annotations

import queue
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session

from models.push.outbox import mark_sent, mark_sent_alone
from models.push.vocabulary import DeliveryOutcome
from scheduler.delivery import Outcome


class Lease(Protocol):
    """A batch's lease (scheduler/worker.py BatchLease): the end a record must match,
    kept from changing while the record is written."""

    def recording(self) -> AbstractContextManager[datetime]: ...


@dataclass
class _Record:
    outcome: Outcome
    now: datetime
    lease: Lease
    done: Future[None] = field(default_factory=Future)


# Writes one outcome other than "sent" for a row still under the lease ending at the
# last argument (the worker's retry, dead-letter and pause rules).
WriteOther = Callable[[Session, Outcome, datetime, datetime], None]


class OutcomeRecorder:
    """The recorder thread of one worker; :meth:`record` is called from sending threads."""

    def __init__(self, engine: Engine, write_other: WriteOther) -> None:
        self._engine = engine
        self._connection: Connection | None = None
        self._write_other = write_other
        self._queue: queue.SimpleQueue[_Record | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="push-recorder", daemon=True)
        self._thread.start()

    def record(self, outcome: Outcome, now: datetime, lease: Lease) -> None:
        """Return once ``outcome`` is committed under ``lease``, the one its row was sent
        under; raise what stopped it being written."""
        record = _Record(outcome, now, lease)
        self._queue.put(record)
        record.done.result()

    def close(self) -> None:
        """Write what was handed over, then end the thread."""
        self._queue.put(None)
        self._thread.join()
        if self._connection is not None:
            self._connection.close()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            while True:
                try:
                    record = self._queue.get_nowait()
                except queue.Empty:
                    break
                if record is None:
                    self._write(group)
                    return
                group.append(record)
            self._write(group)

    def _write(self, group: list[_Record]) -> None:
        """One transaction for the group, each row matched against its lease's end, which
        no renewal changes meanwhile (``BatchLease.recording``)."""
        try:
            with ExitStack() as held:
                ends = {
                    record.lease: held.enter_context(record.lease.recording()) for record in group
                }
                if self._sent_alone(group, ends):
                    self._done(group)
                    return
                with self._session() as db, db.begin():
                    sent: dict[tuple[Lease, datetime, str], list[int]] = defaultdict(list)
                    for record in group:
                        outcome, end = record.outcome, ends[record.lease]
                        if outcome.result == DeliveryOutcome.SENT:
                            channel = outcome.channel or "unknown"
                            sent[(record.lease, record.now, channel)].append(outcome.row.id)
                        else:
                            self._write_other(db, outcome, record.now, end)
                    for (lease, now, channel), ids in sent.items():
                        mark_sent(db, {channel: ids}, now, lease_until=ends[lease])
        except BaseException as exc:
            # Whatever stopped the write (the database gone, a bug), the threads waiting
            # for it must hear of it rather than wait for ever; they raise it. The
            # connection may be broken: the next group opens a new one.
            self._drop_connection()
            for record in group:
                record.done.set_exception(exc)
            return
        self._done(group)

    def _sent_alone(self, group: list[_Record], ends: dict[Lease, datetime]) -> bool:
        """Record a group of rows sent on one channel under one lease in one statement
        that commits by itself (PostgreSQL); False for any other group."""
        first = group[0]
        channel = first.outcome.channel
        if self._engine.dialect.name != "postgresql" or any(
            record.outcome.result != DeliveryOutcome.SENT
            or (record.lease, record.now, record.outcome.channel)
            != (first.lease, first.now, channel)
            for record in group
        ):
            return False
        ids = [record.outcome.row.id for record in group]
        mark_sent_alone(
            self._connect(), ids, channel or "unknown", first.now, lease_until=ends[first.lease]
        )
        return True

    def _done(self, group: list[_Record]) -> None:
        for record in group:
            record.done.set_result(None)

    def _connect(self) -> Connection:
        if self._connection is None:
            self._connection = self._engine.connect()
            if self._engine.dialect.name == "postgresql":
                self._connection.execute(_ASYNC_COMMIT)
                self._connection.commit()
        return self._connection

    def _session(self) -> Session:
        return Session(bind=self._connect(), expire_on_commit=False)

    def _drop_connection(self) -> None:
        if self._connection is not None:
            self._connection.invalidate()
            self._connection.close()
            self._connection = None


_ASYNC_COMMIT = text("SET synchronous_commit TO OFF")
