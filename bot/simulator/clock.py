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


class SimulatedClock:
    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return utcnow() + self._offset

    def advance(self, delta: timedelta) -> datetime:
        if not timedelta() < delta <= MAX_JUMP:
            raise ValueError(f"the clock moves forward by up to {MAX_JUMP.days} days at a time")
        with self._lock:
            self._offset += delta
        return self()

    @property
    def offset(self) -> timedelta:
        with self._lock:
            return self._offset
