"""Leader and followers: concurrent calls in one worker share one round trip.

The webhook runs each delivery in a thread of its own, and most of a delivery's time is
spent waiting on PostgreSQL and Redis, one round trip each for the same kind of work.
Here the first thread to submit becomes the leader: it takes every item queued by then
(up to a bound), does them in one go on its own connection, and hands each waiting
thread its outcome. Threads that queue meanwhile form the next batch, led by the first
of them.

Used for the group commit: a delivery whose handler changed nothing (help, most menu
taps) is stored by one statement, and with a commit each PostgreSQL flushes its WAL once
per message and each thread pays a round trip of its own; batched, concurrent deliveries
are stored by one statement over a JSON list of their values, committed as it answers
(models/inbound.py ``store_together``). A delivery whose handler wrote commits its own
transaction: its work and its row must commit together, and one handler's failure must
not roll back another's.
The Redis commands of concurrent deliveries (each delivery's first look, a Lua script,
and its reply-cache SET) went through it too, in one pipeline per batch, and were taken
out again: the app's worker CPU per message rose from 1.54 to 2.10 ms and its rate fell
from 460 to 354 msgs/s (bench/README.md, 2026-12-02). A Redis round trip costs the worker
about what a follower's hand-off does (a lock, an event, a GIL switch), and a pipeline
checks a connection out of the pool where the thread's own connection needs none.

The bounds:
- a thread returns only once the batch holding its item is done (for the group commit:
  committed), or raises the batch's failure as its own;
- no leader waits for a batch to fill: a lone call goes at once, and a batch is whatever
  arrived while the previous one was in flight;
- a batch holds at most ``max_batch`` items, so one round trip never grows without limit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")
Via = TypeVar("Via")


@dataclass
class _Queued(Generic[Item, Outcome]):
    item: Item
    # Set when the outcome is in, or when this thread is to lead the next batch.
    wake: threading.Event = field(default_factory=threading.Event)
    outcome: Outcome | None = None
    error: BaseException | None = None
    leads: bool = False


class Batches(Generic[Via, Item, Outcome]):
    """``run(via, items)`` does a batch on the leader's ``via`` (its connection or client)
    and returns an outcome for each item, in order."""

    def __init__(
        self, run: Callable[[Via, Sequence[Item]], Sequence[Outcome]], max_batch: int
    ) -> None:
        self._run = run
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._queued: list[_Queued[Item, Outcome]] = []
        self._leading = False

    @property
    def queued(self) -> int:
        """Items waiting now for a batch to take them."""
        with self._lock:
            return len(self._queued)

    def submit(self, via: Via, item: Item) -> Outcome:
        """The item's outcome once its batch is done; ``via`` carries the batch if this
        thread leads it."""
        mine: _Queued[Item, Outcome] = _Queued(item)
        with self._lock:
            self._queued.append(mine)
            mine.leads = not self._leading
            self._leading = True
        if not mine.leads:
            mine.wake.wait()
        if mine.leads:
            self._lead(via)
        if mine.error is not None:
            raise mine.error
        return mine.outcome  # type: ignore[return-value]

    def _lead(self, via: Via) -> None:
        """Do the items queued now, this thread's first among them (the queue is empty
        whenever no one leads, and a successor is the first still queued), then hand the
        lead to the first item queued meanwhile, if any."""
        with self._lock:
            batch = self._queued[: self._max_batch]
            del self._queued[: self._max_batch]
        try:
            outcomes = self._run(via, [queued.item for queued in batch])
        except Exception as error:
            for queued in batch:
                queued.error = error
        else:
            for queued, outcome in zip(batch, outcomes, strict=True):
                queued.outcome = outcome
        with self._lock:
            if self._queued:
                successor = self._queued[0]
                successor.leads = True
                successor.wake.set()
            else:
                self._leading = False
        for queued in batch:
            queued.wake.set()
