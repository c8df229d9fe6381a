"""Deliveries PostgreSQL could not take, kept on local disk until it can.

When the database is down, a delivery is appended to a journal and answered "got it, we
will reply shortly"; the drain (bot/drain.py) handles it once the database is back and
the real reply goes out as a push. So the journal must be as durable as the database
would have been when the webhook answers: each record is written and fsynced before the
reply is sent.

Why an fsynced local journal rather than a Redis stream with ``appendfsync always``:

- It shares no failure with the database's network path or with Redis. An outage that
  takes the database away often takes the network or the host's neighbours with it; a
  local disk is there whenever the webhook itself is.
- Redis here holds only what may be lost (bot/redis_conn.py): it runs without AOF, and
  it is shared with other processes. Making it the one copy of what residents wrote would
  need it configured for durability (AOF always, no eviction) and watched as such; a
  Redis that is down at the same moment would lose the delivery.
- The cost is paid only during an outage: one write and one fsync per delivery.

The price: a journal lives on the host that wrote it. A host lost for good with
undrained records loses them; the spool's depth and oldest age (``GET /healthz``) say
when a host holds any.

Layout: one segment file per writing process at a time, ``inbound-<ns>-<pid>.jsonl``,
one JSON record per line. The writer holds an exclusive ``flock`` on its segment while it
appends; the drain seals the segment (the writer closes it and starts another on its next
record), takes the lock of each segment it can, handles its records in order and deletes
it. A segment whose writer died is unlocked, so any process's drain adopts it. A record
torn by a crash was never fsynced, so never answered: WeChat sends it again, and it is
skipped. Handling is idempotent (the inbound table's unique key, the push's idempotency
key), so a segment drained halfway and drained again handles each delivery once.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

SEGMENT_GLOB = "inbound-*.jsonl"


class SpoolUnavailable(Exception):
    """The journal could not take a record (disk full, folder not writable)."""


@dataclass(frozen=True)
class SpooledDelivery:
    """A delivery as it reached the webhook: its verified fields and when it came."""

    key: str
    fields: Mapping[str, str]
    received_at: datetime

    def to_line(self) -> bytes:
        record = {"key": self.key, "fields": dict(self.fields), "at": self.received_at.isoformat()}
        return json.dumps(record, ensure_ascii=False).encode() + b"\n"

    @classmethod
    def from_line(cls, line: bytes) -> SpooledDelivery | None:
        """The record, or None for a line a crash cut short."""
        if not line.endswith(b"\n"):
            return None
        try:
            record = json.loads(line)
            return cls(record["key"], record["fields"], datetime.fromisoformat(record["at"]))
        except (ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True)
class SpoolDepth:
    """Undrained records on this host, and when the oldest of them arrived."""

    records: int
    oldest: datetime | None


class Spool:
    """This process's journal writer and the drain's view of every segment in the folder."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._lock = threading.Lock()
        self._segment: int | None = None
        self._segment_records = 0

    def append(self, delivery: SpooledDelivery) -> None:
        """Write the record durably; SpoolUnavailable when the disk refuses it."""
        line = delivery.to_line()
        try:
            with self._lock:
                if self._segment is None:
                    self._segment = self._open_segment()
                os.write(self._segment, line)
                os.fsync(self._segment)
                self._segment_records += 1
        except OSError as error:
            raise SpoolUnavailable(f"{type(error).__name__}: {error.strerror}") from error

    def seal(self) -> None:
        """Close this process's segment, so the drain may take it; the next record starts
        another."""
        with self._lock:
            if self._segment is not None and self._segment_records:
                os.close(self._segment)
                self._segment = None
                self._segment_records = 0

    def drain(self, handle: Callable[[SpooledDelivery], None]) -> int:
        """Seal this process's segment, then hand every record of each segment no other
        process holds to ``handle``, oldest segment first, deleting each segment once all
        its records are handled. An exception from ``handle`` stops the drain and leaves
        that segment for the next one. Returns the records handled."""
        self.seal()
        handled = 0
        for path in self._segments():
            with self._locked(path) as lines:
                if lines is None:
                    continue
                for line in lines:
                    record = SpooledDelivery.from_line(line)
                    if record is not None:
                        handle(record)
                        handled += 1
                path.unlink()
                self._sync_directory()
        return handled

    def depth(self) -> SpoolDepth:
        records = 0
        oldest: datetime | None = None
        for path in self._segments():
            try:
                lines = path.read_bytes().splitlines(keepends=True)
            except FileNotFoundError:  # drained meanwhile
                continue
            parsed = [r for r in map(SpooledDelivery.from_line, lines) if r is not None]
            records += len(parsed)
            if parsed and (oldest is None or parsed[0].received_at < oldest):
                oldest = parsed[0].received_at
        return SpoolDepth(records, oldest)

    def _segments(self) -> list[Path]:
        return sorted(self._directory.glob(SEGMENT_GLOB))

    def _open_segment(self) -> int:
        """A new segment, locked before it gets its name: a drain can never find it
        unlocked and empty, and delete it under the writer."""
        self._directory.mkdir(parents=True, exist_ok=True)
        # Wall-clock nanoseconds: names sort in the order segments started, across processes.
        name = f"inbound-{time.time_ns():020d}-{os.getpid()}"
        partial = self._directory / f"{name}.partial"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.rename(partial, self._directory / f"{name}.jsonl")
            self._sync_directory()
        except OSError:
            os.close(fd)
            raise
        return fd

    def _sync_directory(self) -> None:
        """A new or removed segment's name is durable only once its folder is synced."""
        fd = os.open(self._directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    @contextmanager
    def _locked(self, path: Path) -> Iterator[list[bytes] | None]:
        """The segment's lines while holding its lock; None when a writer or another
        drain holds it, or it is gone."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            yield None
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield None
                return
            if not path.exists():  # drained and deleted between the glob and the lock
                yield None
                return
            with os.fdopen(os.dup(fd), "rb") as segment:
                lines = segment.read().splitlines(keepends=True)
            yield lines
        finally:
            os.close(fd)
