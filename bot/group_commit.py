"""Group commit: concurrent deliveries in one worker are stored by one transaction.

Most deliveries change nothing but their own row (help, most menu taps), so storing one
is one statement and one commit. With a commit each, PostgreSQL flushes its WAL once per
message and each thread pays a round trip of its own. Here the first thread to store
becomes the leader: it takes every store queued by then (up to ``MAX_BATCH``), sends
them down its own connection in one round trip with one COMMIT
(models/inbound.py ``store_together``), and hands each waiting thread its outcome.
Threads that queue meanwhile form the next batch, led by the first of them.

The bounds that keep every reply durable before it is sent, and latency where it was:
- a thread returns its reply only once the commit that holds its row has returned
  (or the batch's failure, which each of its threads then handles as its own);
- no leader waits for a batch to fill: a lone delivery commits at once, and a batch is
  whatever arrived while the previous commit was in flight;
- a batch holds at most ``MAX_BATCH`` stores, so one commit never grows without limit.

Deliveries whose handler changed the database commit their own transaction as before:
their work and their row must commit together, and sharing it would let one handler's
failure roll back another's.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sqlalchemy import Connection

from models.inbound import NewInbound, store_together

MAX_BATCH = 64


@dataclass
class _Store:
    delivery: NewInbound
    resident_id: int
    reply: str
    # Set when the outcome is in, or when this thread is to lead the next batch.
    wake: threading.Event = field(default_factory=threading.Event)
    stored: bool = False
    error: BaseException | None = None
    leads: bool = False


class GroupCommit:
    def __init__(self, max_batch: int = MAX_BATCH) -> None:
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._queued: list[_Store] = []
        self._leading = False

    @property
    def queued(self) -> int:
        """Stores waiting now for a commit to take them."""
        with self._lock:
            return len(self._queued)

    def store(
        self, connection: Connection, delivery: NewInbound, resident_id: int, reply: str
    ) -> bool:
        """Store the handled delivery with its reply, committed; False when a copy was
        stored first. ``connection`` (not in a transaction) carries the batch if this
        thread leads it."""
        mine = _Store(delivery, resident_id, reply)
        with self._lock:
            self._queued.append(mine)
            mine.leads = not self._leading
            self._leading = True
        if not mine.leads:
            mine.wake.wait()
        if mine.leads:
            self._lead(connection)
        if mine.error is not None:
            raise mine.error
        return mine.stored

    def _lead(self, connection: Connection) -> None:
        """Commit the stores queued now, this thread's first among them (the queue is
        empty whenever no one leads, and a successor is the first still queued), then
        hand the lead to the first store queued meanwhile, if any."""
        with self._lock:
            batch = self._queued[: self._max_batch]
            del self._queued[: self._max_batch]
        try:
            outcomes = store_together(
                connection, [(s.delivery, s.resident_id, s.reply) for s in batch]
            )
        except Exception as error:
            for each in batch:
                each.error = error
        else:
            for each, stored in zip(batch, outcomes, strict=True):
                each.stored = stored
        with self._lock:
            if self._queued:
                successor = self._queued[0]
                successor.leads = True
                successor.wake.set()
            else:
                self._leading = False
        for each in batch:
            each.wake.set()
