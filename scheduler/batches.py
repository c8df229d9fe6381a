"""A claimed batch as a worker holds it: its rows, the lease they are held under (renewed
while their sends run), and the turns its sending threads take through them."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import OperationalError

from bot.services import Services
from models.push.claims import Claimed, renew_lease
from scheduler.delivery import Plan

log = logging.getLogger(__name__)


class Turns:
    """The rows of one chunk, taken one at a time by the sending threads."""

    def __init__(self, plans: list[Plan]) -> None:
        self._plans = deque(plans)

    def take(self) -> Plan | None:
        """The next row to send, or None when none is left (deque pops are atomic)."""
        try:
            return self._plans.popleft()
        except IndexError:
            return None

    def drop(self) -> None:
        """Leave the rest unsent: their lease runs out and they go again."""
        self._plans.clear()


@dataclass(frozen=True)
class Batch:
    """A claimed batch: its rows, in claim order, and the lease they are held under."""

    rows: list[Claimed]
    lease: BatchLease

    @property
    def size(self) -> int:
        return len(self.rows)


class BatchLease:
    """A worker's lease on the rows of one batch, renewed while their sends run.

    The lease must outlive every send that starts under it, or a second worker claims
    the rows when it lapses and sends them again. So before each send the lease is
    renewed once a third of it has passed, and the send goes ahead only if this worker
    still holds the row for longer than the send may take. The check is in memory;
    the database is touched only to renew, which a fast batch never needs.

    Outcomes are recorded while other rows are sent, each matching the row's
    ``lease_until``; a renewal changes it, so it waits until no record is being written
    (:meth:`recording`), and a record never names an end the database no longer has.
    """

    def __init__(
        self, services: Services, ids: list[int], until: datetime, lease: timedelta
    ) -> None:
        self._services = services
        self._ids = set(ids)
        self.until = until
        self._lease = lease
        self._lock = threading.Condition()
        self._recording = 0

    def holds(self, row_id: int, send_time: timedelta) -> bool:
        """True if the row is still ours for longer than ``send_time`` (at most half the
        lease, so that a renewed lease always leaves room for a send)."""
        with self._lock:
            now = self._services.clock()
            if self.until - now < self._lease * 2 / 3:
                self._lock.wait_for(lambda: self._recording == 0)
                self._renew(now)
            needed = min(send_time, self._lease / 2)
            return row_id in self._ids and self.until - now > needed

    @contextmanager
    def recording(self) -> Iterator[datetime]:
        """The lease's end to record an outcome under, unchanged until the block ends."""
        with self._lock:
            self._recording += 1
            until = self.until
        try:
            yield until
        finally:
            with self._lock:
                self._recording -= 1
                self._lock.notify_all()

    def _renew(self, now: datetime) -> None:
        until = now + self._lease
        try:
            with self._services.session_factory() as db, db.begin():
                self._ids = renew_lease(db, self._ids, self.until, until)
        except OperationalError as exc:
            log.warning("could not renew the lease on a batch (%s); it may run out", exc)
            return
        if self._ids:
            self.until = until
