"""A text broadcast to everyone fanned out at a million residents: how long writing its
outbox rows takes, and what its progress says meanwhile.

The broadcast is created and fanned out as ``aixiang broadcast --audience all --text``
does it (models/broadcasts/fanout.py ``create_broadcast`` then ``fan_out``, audited as
an OS user), in one process with its own session, and committed. While it writes,
``fan_out``'s progress callback is printed every tenth of the audience, and another
connection reads the broadcast's progress as the console's broadcasts page reads it
(models/broadcasts/progress.py), to show what staff see meanwhile. Afterwards the rows
are counted against the recipients, and deleted with the broadcast and its audit entry,
so the next run starts from the same data.
"""

from __future__ import annotations

import threading
import time
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, create_engine, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from bench.console_data import NOW
from bench.support import BENCH_BACKEND, BenchError, CpuMeter
from models.audit import Actor, AuditEntry, AuditObject
from models.broadcasts.fanout import create_broadcast, fan_out
from models.broadcasts.messages import text_message
from models.broadcasts.progress import broadcast_progress
from models.broadcasts.records import Broadcast, BroadcastSettings
from models.db import make_session_factory
from models.push.outbox import OutboxMessage
from models.push.registry import PushKind

GOAL_S = 60.0
TEXT = "本周六上午九点，村委会门口举办垃圾分类宣传活动，欢迎参加。"
POLL_S = 1.0


def _clean(engine: Engine) -> None:
    """Every broadcast row a previous run left, so the outbox holds the seeded rows only."""
    with engine.begin() as connection:
        connection.execute(delete(OutboxMessage).where(OutboxMessage.kind == PushKind.BROADCAST))
        ids = select(Broadcast.id).scalar_subquery()
        connection.execute(
            delete(AuditEntry).where(
                AuditEntry.object_type == AuditObject.BROADCAST, AuditEntry.object_id.in_(ids)
            )
        )
        connection.execute(delete(Broadcast))


class Watcher(threading.Thread):
    """Reads the broadcast's progress, as the console does, once a second until stopped."""

    def __init__(self, engine: Engine, started: float) -> None:
        super().__init__(daemon=True)
        self.sessions = make_session_factory(engine)
        self.started = started
        self.broadcast_id: int | None = None
        self.stopped = threading.Event()
        self.seen: list[tuple[float, int]] = []

    def run(self) -> None:
        while not self.stopped.wait(POLL_S):
            if self.broadcast_id is None:
                continue
            with self.sessions() as db:
                broadcast = db.get(Broadcast, self.broadcast_id)
                counts = {} if broadcast is None else broadcast_progress(db, [broadcast])
                rows = sum(counts.get(self.broadcast_id, {}).values())
            self.seen.append((time.perf_counter() - self.started, rows))


def measure_fanout(url: str) -> None:
    engine = create_engine(url)
    sessions = make_session_factory(engine)
    settings = BroadcastSettings(tz=ZoneInfo("Asia/Shanghai"))
    try:
        _clean(engine)
        print("\nfan-out of a text broadcast to everyone (`aixiang broadcast --audience all`):")
        meter = CpuMeter(engine.url.database)
        started = time.perf_counter()
        watcher = Watcher(engine, started)
        watcher.start()
        marks: list[tuple[float, int]] = []
        written = 0

        def progress(rows: int) -> None:
            nonlocal written
            written += rows
            marks.append((time.perf_counter() - started, written))

        meter.start()
        cpu_before = time.process_time()
        with sessions() as db:
            broadcast = create_broadcast(
                db,
                Actor.os_user("bench/dashboard.py"),
                texts=text_message(TEXT),
                audience="all",
                now=NOW,
            )
            watcher.broadcast_id = broadcast.id
            db.commit()
            result = fan_out(db, broadcast, NOW, settings, progress=progress)
            written_at = time.perf_counter() - started
            db.commit()
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_before
        meter.stop()
        watcher.stopped.set()
        watcher.join()
        _report(result.recipients, result.rows, marks, written_at, elapsed, watcher.seen)
        print(
            f"  CPU during the fan-out: this process {cpu:.1f} s, PostgreSQL backends "
            f"{meter.seconds_of_name(BENCH_BACKEND):.1f} s"
        )
        _check(sessions, broadcast.id, result.recipients)
    finally:
        _clean(engine)
        engine.dispose()


def _report(
    recipients: int,
    rows: int,
    marks: list[tuple[float, int]],
    written_at: float,
    elapsed: float,
    seen: list[tuple[float, int]],
) -> None:
    print(
        f"  {recipients:,} recipients, {rows:,} rows written in {written_at:.1f} s, committed "
        f"at {elapsed:.1f} s ({rows / elapsed:,.0f} rows/s; goal < {GOAL_S:.0f} s: "
        f"{'met' if elapsed < GOAL_S else 'MISSED'})"
    )
    step = max(1, recipients // 10)
    shown = 0
    for at, done in marks:
        if done >= shown + step or done == recipients:
            print(f"    progress at {at:6.1f} s: {done:>9,} rows")
            shown = done
    if marks:
        print(f"    first progress at {marks[0][0]:.1f} s (the audience resolved before it)")
    visible = [(at, rows) for at, rows in seen if 0 < rows < recipients]
    print(
        "  the console's progress read meanwhile (another connection, once a second): "
        + (
            ", ".join(f"{rows:,} at {at:.0f} s" for at, rows in visible[:10])
            if visible
            else f"{len(seen)} reads, none saw a row before the commit"
        )
    )


def _check(sessions: sessionmaker[Session], broadcast_id: int, recipients: int) -> None:
    with sessions() as db:
        rows = db.execute(
            select(func.count()).where(
                OutboxMessage.idempotency_key.startswith(f"broadcast:{broadcast_id}:")
            )
        ).scalar_one()
    if rows != recipients:
        raise BenchError(f"broadcast {broadcast_id}: {rows} rows for {recipients} recipients")
    print(f"  checked: {rows:,} outbox rows, one per recipient")
