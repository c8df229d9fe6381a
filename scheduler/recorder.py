"""Write each send's outcome as soon as the send ends, in group commits.

A worker killed after sending a row but before recording it has that row sent again
when its lease runs out. So a sending thread hands each outcome to this recorder the
moment its send ends, and the recorder commits it at once. A thread goes on to its next
send without waiting for the commit, unless as many outcomes as there are sending
threads (``backlog``) are still waiting for theirs; then it waits for room. So at any
instant a worker has at most two unrecorded sends per thread: the one in flight, and one
handed over (or waiting to be) but not committed; a kill re-sends at most that many rows.

One commit per row, made by the thread that sent it, would cost a transaction per push,
and the bench showed the worker falling far behind. Instead one recorder thread commits
outcomes in groups: after the first outcome of a group it gathers for ``GATHER_S`` (2 ms),
or until ``backlog`` are waiting, and writes them in one transaction, sent rows as one
statement per channel. It keeps a connection of its own (no pool checkout and liveness
ping per group; one that broke is replaced), and on PostgreSQL a group of sent rows, the
common case, is a single statement that commits by itself: one round trip.

On PostgreSQL that connection commits with ``synchronous_commit = off``: PostgreSQL
answers once the commit is in its memory, without waiting for the disk, so the group's
outcomes are settled sooner and the sending threads rarely wait for room. A killed worker
loses nothing by it (PostgreSQL has the commit); only a crash of PostgreSQL itself may
forget the outcomes of its last moments (at most three ``wal_writer_delay``, 0.6 s by
default), whose rows are then sent again when their lease runs out: a duplicate, never
a loss.

That connection also plans its statements once (``plan_cache_mode =
force_generic_plan``). Left to choose, PostgreSQL planned the sent rows' UPDATE afresh
at every execution, since its estimate for a generic plan of ``id = ANY($1)`` is higher,
though both find the rows through the primary key; with a commit every few rows that
planning was much of the database's work per push.

A write that fails (the database gone) is raised to the sending threads at their next
hand-over and by :meth:`OutcomeRecorder.flush`, so the batch stops sending; its rows
stay leased and go again when the lease runs out.
"""

from __future__ import annotations

import queue
import threading
from collections import defaultdict
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from models.push.outcomes import mark_sent, mark_sent_alone
from models.push.vocabulary import DeliveryOutcome
from scheduler.delivery import Outcome


class Lease(Protocol):
    """A batch's lease (scheduler/batches.py BatchLease): the end a record must match,
    kept from changing while the record is written."""

    def recording(self) -> AbstractContextManager[datetime]: ...


@dataclass(frozen=True)
class _Record:
    outcome: Outcome
    now: datetime
    lease: Lease


# How long the recorder gathers outcomes after the first of a group before it commits
# them (unless ``backlog`` of them are waiting already): a commit for a few rows rather
# than one each. Sending threads do not wait for it.
GATHER_S = 0.002
_RECORDER_SETTINGS = text(
    "SELECT set_config('synchronous_commit', 'off', false),"
    " set_config('plan_cache_mode', 'force_generic_plan', false)"
)

# Writes one outcome other than "sent" for a row still under the lease ending at the
# last argument (the worker's retry, dead-letter and pause rules).
WriteOther = Callable[[Session, Outcome, datetime, datetime], None]


class OutcomeRecorder:
    """The recorder thread of one worker; :meth:`record` is called from sending threads."""

    def __init__(self, engine: Engine, write_other: WriteOther, backlog: int) -> None:
        self._engine = engine
        self._connection: Connection | None = None
        self._write_other = write_other
        self._backlog = backlog
        # One lock for the counts, with a condition for each of the other waiters: flush
        # for none pending, the recorder for a group of ``backlog``. Sending threads wait
        # for room on ``_room``, a queue holding one token per outcome that may still be
        # handed over: a committed group puts back one per row, each waking at most one
        # waiting thread, in C, which then needs no lock but the GIL. A condition there
        # made each woken thread wait a second time, for the lock the recorder still
        # held as it woke the next: a tenth of the worker's GIL time went to those
        # hand-overs (py-spy, bench/README.md).
        self._lock = threading.Lock()
        self._room: queue.SimpleQueue[bool] = queue.SimpleQueue()
        for _ in range(backlog):
            self._room.put(True)
        self._settled = threading.Condition(self._lock)
        self._full = threading.Condition(self._lock)
        self._pending = 0
        self._failure: BaseException | None = None
        self._queue: queue.SimpleQueue[_Record | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="push-recorder", daemon=True)
        self._thread.start()

    def record(self, outcome: Outcome, now: datetime, lease: Lease) -> None:
        """Hand over ``outcome`` to be committed under ``lease``, the one its row was sent
        under, first waiting while ``backlog`` outcomes wait for their commit. Raises what
        stopped an earlier outcome being written, so the batch stops sending."""
        self._room.get()
        with self._lock:
            if self._failure is not None:
                # The token goes to the next waiting thread, which raises too.
                self._room.put(True)
                raise self._failure
            self._pending += 1
            self._queue.put(_Record(outcome, now, lease))
            if self._pending >= self._backlog:
                self._full.notify()

    def flush(self) -> None:
        """Wait until every outcome handed over is committed; raise what stopped one."""
        with self._lock:
            self._settled.wait_for(lambda: self._pending == 0)
            failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

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
            group, closing = self._gather(first)
            self._write(group)
            if closing:
                return

    def _gather(self, first: _Record) -> tuple[list[_Record], bool]:
        """The group that ``first`` opens, and whether the recorder was closed meanwhile.

        The thread sleeps through the gathering, woken early only when ``backlog``
        outcomes are waiting (:meth:`record` says so), then takes what was queued: two
        wake-ups a group, where waking for each outcome cost a thread switch per push."""
        with self._lock:
            self._full.wait_for(lambda: self._pending >= self._backlog, timeout=GATHER_S)
        group = [first]
        while len(group) < self._backlog:
            try:
                record = self._queue.get_nowait()
            except queue.Empty:
                break
            if record is None:
                return group, True
            group.append(record)
        return group, False

    def _write(self, group: list[_Record]) -> None:
        """Commit the group, each row matched against its lease's end, which no renewal
        changes meanwhile (``BatchLease.recording``)."""
        try:
            with ExitStack() as held:
                ends = {
                    lease: held.enter_context(lease.recording())
                    for lease in {record.lease for record in group}
                }
                self._write_on_live_connection(group, ends)
        except BaseException as exc:
            # Whatever stopped the write (the database gone, a bug), the sending threads
            # must hear of it and stop rather than send on unrecorded; they raise it. The
            # connection may be broken: the next group opens a new one.
            self._drop_connection()
            self._done(group, exc)
            return
        self._done(group)

    def _write_on_live_connection(self, group: list[_Record], ends: dict[Lease, datetime]) -> None:
        """Write the group, again on a new connection if the kept one turns out dead.

        The kept connection is never pinged, so after PostgreSQL restarts its first use
        fails, having written nothing. The group's rows were taken by WeChat: left
        unrecorded, they would go out a second time when their lease ends (bench/chaos.py
        saw it), so the write is tried once more on a fresh connection."""
        try:
            self._write_group(group, ends)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            self._drop_connection()
            self._write_group(group, ends)

    def _write_group(self, group: list[_Record], ends: dict[Lease, datetime]) -> None:
        if not self._sent_alone(group, ends):
            self._write_mixed(group, ends)

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

    def _write_mixed(self, group: list[_Record], ends: dict[Lease, datetime]) -> None:
        """Any group, in one transaction: sent rows one statement per channel, the other
        outcomes by the worker's rules."""
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

    def _done(self, group: list[_Record], failure: BaseException | None = None) -> None:
        with self._lock:
            self._pending -= len(group)
            # On a failure every waiting sender must hear of it and stop: the first woken
            # raises and puts its token back for the next (:meth:`record`).
            if failure is not None and self._failure is None:
                self._failure = failure
            if self._pending == 0:
                self._settled.notify_all()
        for _ in group:
            self._room.put(True)

    def _connect(self) -> Connection:
        if self._connection is None:
            self._connection = self._engine.connect()
            if self._engine.dialect.name == "postgresql":
                self._connection.execute(_RECORDER_SETTINGS)
                self._connection.commit()
        return self._connection

    def _session(self) -> Session:
        return Session(bind=self._connect(), expire_on_commit=False)

    def _drop_connection(self) -> None:
        if self._connection is not None:
            self._connection.invalidate()
            self._connection.close()
            self._connection = None
