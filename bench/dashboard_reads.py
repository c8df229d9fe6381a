"""The impact dashboard at scale: its figures read in this process, and its full page
through the real app, for each period and filter.

In process, each combination runs every models/impact read the page's tables are built
from (bot/console/impact/tables.py), in a session of its own, on one connection with
serial plans (bench/console_queries.py's ``serial_engine``), so the CPU the PostgreSQL
backend spends is all the server CPU of the page's reads. Through the app, ``aixiang
serve`` with one worker answers one signed-in staff client, one page at a time: on
loopback with nothing queued, the time the client sees is the server's time plus a
fraction of a millisecond.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bench.console_data import NOW
from bench.console_http import REQUEST_TIMEOUT_S, serving, signed_in, staff_password
from bench.console_queries import serial_engine
from bench.events import percentile
from bench.support import TICKS_PER_S, BenchError, cpu_ticks
from bot.config.sections import DEFAULT_NEED_CATEGORIES, ConsoleConfig
from models.db import make_session_factory
from models.impact.broadcasts import broadcast_reach
from models.impact.events import by_month, held_event_rows, total
from models.impact.needs import most_raised, over_deadline, partner_hours, raised_need_counts
from models.impact.period import period_bounds
from models.impact.residents import residents_served
from models.impact.scope import ImpactScope
from models.needs.queue import AckDeadlines

TZ = ZoneInfo("Asia/Shanghai")
GOAL_MS = 300.0
# Periods as the page's form names them (kind, value, start, end); "all time" is the
# custom range over every day the data holds.
PERIODS = {
    "month": ("month", "2026-11", "", ""),
    "quarter": ("quarter", "2026-Q3", "", ""),
    "year": ("year", "2025", "", ""),
    "custom (6 months)": ("custom", "", "2025-03-01", "2025-08-31"),
    "all time": ("custom", "", "2024-12-01", "2026-12-02"),
}
# Filters: none, a village (its groups included), an event tag, both.
VILLAGE = 3
TAG = "elderly"
FILTERS = {
    "everything": (None, ""),
    f"village {VILLAGE}": (VILLAGE, ""),
    f"tag {TAG}": (None, TAG),
    f"village {VILLAGE} + tag {TAG}": (VILLAGE, TAG),
}


@dataclass(frozen=True)
class Combination:
    period: str
    filter: str

    @property
    def name(self) -> str:
        return f"{self.period}, {self.filter}"

    def scope(self) -> ImpactScope:
        kind, value, start, end = PERIODS[self.period]
        bounds = period_bounds(kind, value, TZ, start, end).until(NOW)
        village, tag = FILTERS[self.filter]
        return ImpactScope(bounds.start, bounds.end, village, tag)

    def query_string(self) -> str:
        kind, value, start, end = PERIODS[self.period]
        village, tag = FILTERS[self.filter]
        return (
            f"?period={kind}&value={value}&start={start}&end={end}"
            f"&village={village or ''}&tag={tag}"
        )


def combinations() -> list[Combination]:
    return [Combination(period, name) for period in PERIODS for name in FILTERS]


def read_figures(db: Session, scope: ImpactScope, deadlines: AckDeadlines) -> object:
    """Every figure the dashboard's tables show, read as bot/console/impact/tables.py
    reads them (without the page's headings and names)."""
    events = held_event_rows(db, scope)
    needs = raised_need_counts(db, scope, TZ)
    return (
        total(events),
        by_month(events, TZ),
        residents_served(db, scope),
        broadcast_reach(db, scope),
        needs.by_category_status(),
        needs.by_month_category(),
        needs.by_month_status(),
        partner_hours(db, scope),
        over_deadline(db, scope, deadlines, NOW),
        most_raised(db, scope),
    )


def summary(times: list[float]) -> str:
    return f"p50 {statistics.median(times):7.1f}  p99 {percentile(times, 0.99):7.1f}"


def verdict(times: list[float]) -> str:
    return "met" if percentile(times, 0.99) < GOAL_MS else "MISSED"


def measure_figures(url: str, iterations: int) -> None:
    """Each combination's reads, ``iterations`` times after one to warm up."""
    engine, backend = serial_engine(url)
    sessions = make_session_factory(engine)
    config = ConsoleConfig()
    deadlines = AckDeadlines(config.ack_days_by_category(DEFAULT_NEED_CATEGORIES), config.ack_days)
    print(
        f"\nthe dashboard's reads in this process, {iterations} runs each, serial plans "
        "(ms; CPU: mean per run of this process + the PostgreSQL backend):"
    )
    try:
        for combination in combinations():
            scope = combination.scope()
            with sessions() as db:
                read_figures(db, scope, deadlines)
            times = []
            client_before, server_before = time.process_time(), cpu_ticks(backend)
            for _ in range(iterations):
                started = time.perf_counter()
                with sessions() as db:
                    read_figures(db, scope, deadlines)
                times.append((time.perf_counter() - started) * 1000)
            client_ms = (time.process_time() - client_before) * 1000 / iterations
            server_ms = (cpu_ticks(backend) - server_before) / TICKS_PER_S * 1000 / iterations
            print(
                f"  {combination.name:<40} {summary(times)}  CPU {client_ms:6.1f} + "
                f"{server_ms:6.1f}  (goal p99 < {GOAL_MS:.0f}: {verdict(times)})"
            )
    finally:
        engine.dispose()


def measure_page(url: str, redis: str, iterations: int) -> None:
    """Each combination's full page through the app, signed in as staff."""
    password = staff_password(url)
    print(
        f"\nthe full page /console/impact/ through `aixiang serve` (1 worker, 1 client, one "
        f"page at a time), {iterations} loads each (ms on loopback):"
    )
    with serving(url, redis, 1) as (base, _process):
        client = signed_in(base, password)
        for combination in combinations():
            path = f"{base}/console/impact/{combination.query_string()}"
            times = []
            for turn in range(iterations + 1):
                started = time.perf_counter()
                answer = client.get(path, timeout=REQUEST_TIMEOUT_S)
                elapsed = (time.perf_counter() - started) * 1000
                if answer.status_code != 200 or "/sign-in" in answer.url:
                    raise BenchError(f"{path}: HTTP {answer.status_code} at {answer.url}")
                if turn:  # the first load warms the worker up
                    times.append(elapsed)
            size = len(answer.content) // 1024
            print(
                f"  {combination.name:<40} {summary(times)}  {size:5d} KB  "
                f"(goal p99 < {GOAL_MS:.0f}: {verdict(times)})"
            )
