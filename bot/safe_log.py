"""Log lines that never carry what a resident wrote, and never flood.

An exception's message can hold a resident's words, phone number or openid: PostgreSQL's
"Failing row contains (...)" and "Key (openid)=(...)" details, a handler's own message.
So failures are described by their types (and PostgreSQL's SQLSTATE), and tracebacks are
written as frames and types only. A reason repeated many times a second is written once
per interval, with how many lines were held back.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable

LOG_INTERVAL_S = 60.0


class OncePerInterval:
    """Decides whether a line about a reason is written now: at most one per reason per
    interval, counting the ones held back in between."""

    def __init__(
        self, interval_s: float = LOG_INTERVAL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._interval_s = interval_s
        self._clock = clock
        self._last: dict[str, float] = {}
        self._held: Counter[str] = Counter()
        self._lock = threading.Lock()

    def admit(self, reason: str) -> int | None:
        """None to stay quiet; otherwise how many lines about ``reason`` were held back
        since the last one written."""
        now = self._clock()
        with self._lock:
            if now - self._last.get(reason, float("-inf")) < self._interval_s:
                self._held[reason] += 1
                return None
            self._last[reason] = now
            return self._held.pop(reason, 0)


def held_back(count: int) -> str:
    """The tail of a line that says how many like it were not written."""
    return f" ({count} more like it held back)" if count else ""


_tracebacks = OncePerInterval()


def log_failure(logger: logging.Logger, what: str, error: BaseException) -> None:
    """One ERROR line: ``what`` and the failure's types; the traceback (frames and types
    only) goes with it once a minute per distinct cause."""
    reason = describe(error)
    frames = frames_only(error)
    held = _tracebacks.admit(f"{reason}\n{frames}")
    if held is None:
        logger.error("%s: %s", what, reason)
    else:
        logger.error("%s: %s%s\n%s", what, reason, held_back(held), frames)


def describe(error: BaseException) -> str:
    """``error`` by its type and its causes' types, e.g. ``OperationalError <-
    psycopg.OperationalError``, with PostgreSQL's SQLSTATE when there is one: enough to
    tell causes apart, and nothing of the message."""
    parts = []
    for link in _chain(error):
        name = _type_name(link)
        sqlstate = getattr(link, "sqlstate", None)
        parts.append(f"{name} (SQLSTATE {sqlstate})" if sqlstate else name)
    return " <- ".join(parts)


def frames_only(error: BaseException) -> str:
    """The traceback of ``error`` and its causes, innermost cause first, as Python prints
    it but with each exception's message left out."""
    blocks = []
    for link in reversed(_chain(error)):
        stack = "".join(traceback.format_tb(link.__traceback__))
        blocks.append(f"Traceback (most recent call last):\n{stack}{_type_name(link)}")
    return "\n\nwhich caused:\n\n".join(blocks)


def _chain(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    link: BaseException | None = error
    while link is not None and link not in chain:
        chain.append(link)
        link = link.__cause__ or (None if link.__suppress_context__ else link.__context__)
    return chain


def _type_name(error: BaseException) -> str:
    kind = type(error)
    return (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )
