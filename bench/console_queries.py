"""The console's page reads, timed in this process, and what each statement's plan uses.

Each read is a models/ function a console page calls, run as a page runs it: in a
session of its own, on the samples of :class:`Samples` in turn (so no single row stays
hot in every cache). The time is the whole call's, SQL and ORM, as the console worker
would spend it. Then one more run is recorded statement by statement (a SQLAlchemy
``before_cursor_execute`` listener) and each statement is explained with its parameters:
``EXPLAIN (ANALYZE, BUFFERS)``, summarised as the indexes it used and the tables it read
whole.

Everything runs on one connection with serial plans (``max_parallel_workers_per_gather =
0``), so that the CPU its PostgreSQL backend spends, read from /proc, is all the server
CPU a read costs. On a machine shared with other work the wall-clock times measure the
neighbours too; the CPU times, this process's and the backend's, much less so.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from bench.console_data import NOW
from bench.events import percentile
from bench.needs import walk
from bench.support import TICKS_PER_S, BenchError, cpu_ticks
from bot.config.sections import DEFAULT_NEED_CATEGORIES, ConsoleConfig
from models.audit import AuditFilter, AuditObject, audit_page
from models.dashboard import dashboard
from models.db import make_session_factory
from models.needs.details import merged_needs, need_pushes, visible_need
from models.needs.queries import demand_counts, need_history, need_photos
from models.needs.queue import UNASSIGNED, AckDeadlines, QueueFilter, QueueSort, queue_page
from models.needs.responses import response_templates
from models.partners import list_partners, partner_name
from models.resident_lookup import resident_record, search_residents
from models.residents import Resident

# How many needs and residents the page reads take turns over.
SAMPLES = 20


@dataclass(frozen=True)
class Read:
    """One thing a page reads, and the goal (ms, p99) issue #15 sets for its page."""

    page: str
    name: str
    goal_ms: float
    run: Callable[[Session, int], object]


@dataclass(frozen=True)
class Samples:
    """Refs of needs and ids of residents to read pages of: the needs most residents said
    "me too" to, and others spread over the table; the residents with most sign-ups."""

    need_refs: list[str]
    resident_ids: list[int]

    @classmethod
    def pick(cls, engine: Engine) -> Samples:
        with engine.connect() as connection:
            hot = connection.execute(
                text(
                    "SELECT duplicate_of_id FROM need WHERE duplicate_of_id IS NOT NULL "
                    "GROUP BY duplicate_of_id ORDER BY count(*) DESC LIMIT :n"
                ),
                {"n": SAMPLES // 2},
            ).scalars()
            spread = connection.execute(
                text("SELECT id FROM need WHERE id % 997 = 1 ORDER BY id LIMIT :n"),
                {"n": SAMPLES - SAMPLES // 2},
            ).scalars()
            residents = connection.execute(
                text(
                    "SELECT resident_id FROM signup GROUP BY resident_id "
                    "ORDER BY count(*) DESC, resident_id LIMIT :n"
                ),
                {"n": SAMPLES},
            ).scalars()
            return cls(
                [f"N-{need_id:06d}" for need_id in [*hot, *spread]],
                list(residents),
            )

    def need_ref(self, turn: int) -> str:
        return self.need_refs[turn % len(self.need_refs)]

    def resident_id(self, turn: int) -> int:
        return self.resident_ids[turn % len(self.resident_ids)]


# The needs queue's reads, by what narrows or orders them; 50 rows a page (issue #15).
QUEUE_PAGE = 50
QUEUE_READS: dict[str, QueueFilter] = {
    "open, waiting longest (default)": QueueFilter(),
    "status submitted": QueueFilter(status="submitted"),
    "status resolved": QueueFilter(status="resolved"),
    "every status": QueueFilter(status=""),
    "category jobs": QueueFilter(category="jobs"),
    "partner 7": QueueFilter(partner="7"),
    "no partner": QueueFilter(partner=UNASSIGNED),
    "older than 30 days": QueueFilter(min_age_days=30),
    "over time": QueueFilter(over_time=True),
    "in progress + infrastructure + partner 7": QueueFilter(
        status="in_progress", category="infrastructure", partner="7"
    ),
    "open + jobs + older than 30 days": QueueFilter(category="jobs", min_age_days=30),
    "sort newest": QueueFilter(sort=QueueSort.NEWEST),
    "sort demand": QueueFilter(sort=QueueSort.DEMAND),
    "every status, sort demand": QueueFilter(status="", sort=QueueSort.DEMAND),
    "every status, sort newest, page 100": QueueFilter(status="", sort=QueueSort.NEWEST),
}
# Text searched for: 1, 2, 3 and 5 characters, a rare phrase, and one no need holds.
SEARCHES = ("灯", "路灯", "卫生室", "村口的路灯", "祠堂前的井盖", "没有这句话")


def page_reads(samples: Samples) -> list[Read]:
    """What the console's pages read, by page, as their views call models/."""
    deadlines = AckDeadlines(
        ConsoleConfig().ack_days_by_category(DEFAULT_NEED_CATEGORIES), ConsoleConfig().ack_days
    )

    def queue(wanted: QueueFilter, page: int = 1) -> Callable[[Session, int], object]:
        return lambda db, _: queue_page(db, wanted, deadlines, NOW, page, QUEUE_PAGE)

    def need_page(db: Session, turn: int) -> object:
        need = visible_need(db, samples.need_ref(turn), None)
        assert need is not None
        return (
            db.get(Resident, need.resident_id) if need.resident_id else None,
            partner_name(db, need.partner_id),
            demand_counts(db, [need.id]),
            need_photos(db, need),
            need_history(db, need),
            merged_needs(db, need),
            need_pushes(db, need),
            audit_page(db, AuditFilter(object_type=AuditObject.NEED, object_id=need.id)),
            list_partners(db),
            response_templates(db, need.category),
        )

    def resident_page(db: Session, turn: int) -> object:
        resident = db.get(Resident, samples.resident_id(turn))
        assert resident is not None
        return resident_record(db, resident), audit_page(
            db, AuditFilter(object_type=AuditObject.RESIDENT, object_id=resident.id)
        )

    reads = [Read("landing page", "dashboard", 150, lambda db, _: dashboard(db, NOW))]
    for name, wanted in QUEUE_READS.items():
        page = 100 if name.endswith("page 100") else 1
        reads.append(Read("needs queue", name, 150, queue(wanted, page)))
    reads.append(Read("need page", "every read of a need's page", 50, need_page))
    reads.append(Read("resident page", "record and audit", 100, resident_page))
    for words in SEARCHES:
        reads.append(
            Read("text search", f"open needs, {words!r}", 300, queue(QueueFilter(text=words)))
        )
        reads.append(
            Read(
                "text search",
                f"every need, {words!r}",
                300,
                queue(QueueFilter(status="", text=words)),
            )
        )
    for words in ("王秀", "1300002", "9999"):
        reads.append(
            Read(
                "resident search", repr(words), 300, lambda db, _, w=words: search_residents(db, w)
            )
        )
    return reads


@dataclass(frozen=True)
class Timing:
    read: Read
    times_ms: list[float]
    # Mean CPU milliseconds per run: this process's (Python, the ORM, the driver) and
    # the PostgreSQL backend's.
    client_cpu_ms: float
    server_cpu_ms: float

    @property
    def p50(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def p99(self) -> float:
        return percentile(self.times_ms, 0.99)

    @property
    def met(self) -> bool:
        return self.p99 < self.read.goal_ms


def timed(read: Read, sessions: sessionmaker[Session], iterations: int, backend: int) -> Timing:
    """``iterations`` runs after one to warm up, each in a session of its own; the CPU
    this process and the ``backend`` process spent on them."""
    times = []
    with sessions() as db:
        read.run(db, -1)
    client_before, server_before = time.process_time(), cpu_ticks(backend)
    for turn in range(iterations):
        started = time.perf_counter()
        with sessions() as db:
            read.run(db, turn)
        times.append((time.perf_counter() - started) * 1000)
    client_ms = (time.process_time() - client_before) * 1000 / iterations
    server_ms = (cpu_ticks(backend) - server_before) / TICKS_PER_S * 1000 / iterations
    return Timing(read, times, client_ms, server_ms)


def serial_engine(url: str) -> tuple[Engine, int]:
    """An engine on one connection with serial plans, and its backend's process id."""
    engine = create_engine(url, poolclass=StaticPool)
    with engine.connect() as connection:
        connection.execute(text("SET max_parallel_workers_per_gather = 0"))
        backend = int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())
        connection.commit()
    if not Path(f"/proc/{backend}/stat").exists():
        raise BenchError("the PostgreSQL server is not on this machine: no CPU from /proc")
    return engine, backend


@contextmanager
def recorded(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """Every statement the engine runs meanwhile, with its parameters."""
    statements: list[tuple[str, Any]] = []

    def remember(*args: Any) -> None:
        _connection, _cursor, statement, parameters, _context, _many = args
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", remember)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", remember)


def plan_summary(engine: Engine, statement: str, parameters: Any) -> str:
    """The statement's server time and what its plan read, in one line."""
    with engine.connect() as connection:
        plan = connection.exec_driver_sql(
            f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {statement}", parameters
        ).scalar_one()
    top = plan[0] if isinstance(plan, list) else json.loads(plan)[0]
    nodes = list(walk(top["Plan"]))
    indexes = sorted(
        {f"{node['Index Name']} ({node['Node Type']})" for node in nodes if "Index Name" in node}
    )
    whole = sorted({node["Relation Name"] for node in nodes if node["Node Type"] == "Seq Scan"})
    buffers = top["Plan"].get("Shared Hit Blocks", 0) + top["Plan"].get("Shared Read Blocks", 0)
    parts = [f"{top['Execution Time']:.1f} ms in the server, {buffers} buffers"]
    parts.append(f"index: {', '.join(indexes)}" if indexes else "no index")
    if whole:
        parts.append(f"Seq Scan: {', '.join(whole)}")
    return "; ".join(parts)


def explained(engine: Engine, sessions: sessionmaker[Session], read: Read) -> list[str]:
    """One line per statement of one run of ``read``."""
    with recorded(engine) as statements, sessions() as db:
        read.run(db, 0)
    return [
        f"{first_words(statement)}: {plan_summary(engine, statement, parameters)}"
        for statement, parameters in statements
        if statement.lstrip().upper().startswith("SELECT")
    ]


def first_words(statement: str) -> str:
    """Enough of a statement to tell which one it is: what it selects from."""
    flat = " ".join(statement.split())
    start = flat.upper().find(" FROM ")
    return flat[start + 1 : start + 60] if start >= 0 else flat[:60]


def measure_queries(url: str, iterations: int) -> list[Timing]:
    """Time and explain every page read; print them, and a line per page."""
    engine, backend = serial_engine(url)
    sessions = make_session_factory(engine)
    try:
        samples = Samples.pick(engine)
        print(
            f"\npage reads in this process, {iterations} runs each, serial plans (ms; CPU: "
            "mean per run of this process and of the PostgreSQL backend):"
        )
        timings = []
        for read in page_reads(samples):
            timing = timed(read, sessions, iterations, backend)
            timings.append(timing)
            print(
                f"  {read.page} / {read.name}: p50 {timing.p50:.1f}, p99 {timing.p99:.1f}, "
                f"max {max(timing.times_ms):.1f}; CPU {timing.client_cpu_ms:.1f} + "
                f"{timing.server_cpu_ms:.1f} (goal p99 < {read.goal_ms:.0f}: "
                f"{'met' if timing.met else 'MISSED'})"
            )
            for line in explained(engine, sessions, read):
                print(f"      {line}")
        print_by_page(timings)
        return timings
    finally:
        engine.dispose()


def print_by_page(timings: Sequence[Timing]) -> None:
    print("\nby page: the slowest read's p99 against the page's goal")
    pages: dict[str, list[Timing]] = {}
    for timing in timings:
        pages.setdefault(timing.read.page, []).append(timing)
    for page, reads in pages.items():
        worst = max(reads, key=lambda timing: timing.p99)
        costliest = max(reads, key=lambda timing: timing.client_cpu_ms + timing.server_cpu_ms)
        print(
            f"  {page:<16} p99 {worst.p99:7.1f} ms ({worst.read.name}), goal < "
            f"{worst.read.goal_ms:.0f} ms: {'met' if worst.met else 'MISSED'}; most CPU "
            f"{costliest.client_cpu_ms + costliest.server_cpu_ms:.1f} ms "
            f"({costliest.read.name})"
        )
