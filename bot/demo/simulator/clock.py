"""The demo's clock: real time plus an offset the chat page can move forward.

Reminders and status updates depend on time; the demo lets a person jump ahead a few
hours to see a reminder arrive, without waiting a day. Only the domain sees this clock:
signatures and freshness checks on the webhook keep using the machine's real time.

The offset is kept in a file beside the demo's database, rewritten at every move: staff
commands run against the demo read it (the demo's config names it, see bot/services.py
``clock_for``), and a restarted demo carries on from where the last run's clock stood.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path

from bot.services import read_clock_offset, write_clock_offset
from models.base import utcnow

MAX_JUMP = timedelta(days=30)
# How far ahead of real time the clock may get in all: enough for any demo, and far from
# the end of datetime's range, so no number of jumps can make the clock overflow.
MAX_AHEAD = timedelta(days=366)
JUMP_LIMIT = f"the clock moves forward by up to {MAX_JUMP.days} days at a time"


class SimulatedClock:
    def __init__(self, offset_file: Path | None = None) -> None:
        self._offset_file = offset_file
        self._offset = read_clock_offset(offset_file) if offset_file else timedelta()
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
                    "start the demo with --fresh to begin again from today"
                )
            self._offset += delta
            if self._offset_file is not None:
                write_clock_offset(self._offset_file, self._offset)
        return self()

    def advance_hours(self, hours: float) -> datetime:
        """:meth:`advance` by a number from the page, checked before it becomes a
        timedelta: timedelta raises OverflowError, not ValueError, for 1e20 hours."""
        if not 0 < hours <= MAX_JUMP / timedelta(hours=1):  # also refuses NaN
            raise ValueError(JUMP_LIMIT)
        return self.advance(timedelta(hours=hours))

    def advance_to(self, moment: datetime) -> datetime:
        """Set the clock to ``moment`` in one step; like any move, only forward."""
        if moment.tzinfo is None:
            raise ValueError("give the time with its time zone")
        delta = moment - self()
        if delta <= timedelta():
            raise ValueError("the clock only moves forward: choose a later time")
        return self.advance(delta)

    @property
    def offset(self) -> timedelta:
        with self._lock:
            return self._offset
