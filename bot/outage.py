"""Whether the webhook should try PostgreSQL now, and how long a request may still take.

Once one delivery finds the database unreachable, the deliveries after it go straight to
the spool (bot/spool.py) instead of each waiting on a connection of its own to fail: the
answer stays fast, and no thread piles up behind the pool. The drain (bot/drain.py)
probes the database a few times a second and opens the way again when it answers.
"""

from __future__ import annotations

import threading
import time

import psycopg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# WeChat waits this long for the passive reply, then sends the delivery again.
WECHAT_WAIT_S = 5.0


def unreachable(error: BaseException) -> bool:
    """Whether ``error`` says PostgreSQL cannot take work now (down, restarting, out of
    connections, cancelling), rather than that this delivery's work is wrong. SQLite's
    errors never do: its OperationalError also means a missing table, and a local file
    has no outage a spool would outlast."""
    if isinstance(error, PoolTimeout):
        return True
    if not isinstance(error, DBAPIError):
        return False
    return error.connection_invalidated or isinstance(
        error.orig, psycopg.OperationalError | psycopg.InterfaceError
    )


class DatabaseGate:
    """Open while the database answers; closed from the first failure to the next probe
    that succeeds."""

    def __init__(self) -> None:
        self._down_since: float | None = None
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def close(self) -> None:
        with self._lock:
            if self._down_since is None:
                self._down_since = time.monotonic()

    def open(self) -> None:
        with self._lock:
            self._down_since = None


class Deadline:
    """How long a request has left before WeChat stops waiting for it: counted from when
    the server took the request in (bot/gunicorn_app.py stamps it), else from now."""

    def __init__(self, arrived: float | None = None) -> None:
        self.arrived = time.monotonic() if arrived is None else arrived

    def remaining(self) -> float:
        return self.arrived + WECHAT_WAIT_S - time.monotonic()

    def passed(self) -> bool:
        return self.remaining() <= 0


_arrivals = threading.local()


def note_arrival(monotonic_s: float) -> None:
    """The server's thread records when it took in the request it is about to run."""
    _arrivals.at = monotonic_s


def request_deadline() -> Deadline:
    """The current request's deadline, from the arrival the server noted for this thread."""
    arrived: float | None = getattr(_arrivals, "at", None)
    _arrivals.at = None
    return Deadline(arrived)


# Residents whose language the webhook remembers for when the database cannot say it.
RECENT_LANGUAGES = 10_000


class RecentLanguages:
    """The language each recent sender reads (None: the default), as the database said
    on their last delivery: the "we will reply shortly" of a delivery that had to be
    spooled is then in their language without asking the database."""

    def __init__(self, capacity: int = RECENT_LANGUAGES) -> None:
        self._capacity = capacity
        self._languages: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def remember(self, openid: str, language: str | None) -> None:
        with self._lock:
            self._languages.pop(openid, None)
            self._languages[openid] = language
            if len(self._languages) > self._capacity:
                del self._languages[next(iter(self._languages))]

    def recall(self, openid: str) -> str | None:
        with self._lock:
            return self._languages.get(openid)
