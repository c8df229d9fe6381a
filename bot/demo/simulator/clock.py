"""The demo's clock: real time plus an offset the chat page can move forward.

Reminders and status updates depend on time; the demo lets a person jump ahead a few
hours to see a reminder arrive, without waiting a day. Only the domain sees this clock:
signatures and freshness checks on the webhook keep using the machine's real time.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from models.base import utcnow

MAX_JUMP = timedelta(days=30)
# How far ahead of real time the clock may get in all: enough for any demo, and far from
# the end of datetime's range, so no number of jumps can make the clock overflow.
MAX_AHEAD = timedelta(days=366)
JUMP_LIMIT = f"the clock moves forward by up to {MAX_JUMP.days} days at a time"


class SimulatedClock:
    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return utcnow() + self._offset

    def advance(self, delta: timedelta) -> datetime:
        if not timedelta() < delta <= MAX_JUMP:
            raise ValueError(JUMP_LIMIT)
        with self._lock:
            if self._offset + delta > MAX_AHEAD:
                raise ValueError(
                    f"the clock goes at most {MAX_AHEAD.days} days ahead; "
                    "restart the demo to start again from today"
                )
            self._offset += delta
        return self()

    def advance_hours(self, hours: float) -> datetime:
        """:meth:`advance` by a number from the page, checked before it becomes a
        timedelta: timedelta raises OverflowError, not ValueError, for 1e20 hours."""
        if not 0 < hours <= MAX_JUMP / timedelta(hours=1):  # also refuses NaN
            raise ValueError(JUMP_LIMIT)
        return self.advance(timedelta(hours=hours))

    @property
    def offset(self) -> timedelta:
        with self._lock:
            return self._offset
