"""The console at scale: the pages staff use most, over a club two years into its life.

Issue #15: with 200,000 needs, 100,000 residents, 1,000,000 inbound messages, 10,000
events and 1,000,000 sign-ups in PostgreSQL, the needs queue (each filter alone, three
together, any sort) p99 < 150 ms server time; a need's page < 50 ms; a resident's page
< 100 ms; text search over needs < 300 ms; 20 signed-in staff clicking through pages for
60 s with no error and p99 < 300 ms; console worker RSS <= 150 MB.

1. The data (bench/console_data.py) goes into its own database, aixiang_console_bench
   (``--database`` names another, e.g. a copy made with ``createdb -T``), migrated with
   the project's migrations (what ``aixiang db upgrade`` runs). Without ``--reuse`` it
   is created afresh; with ``--reuse`` a database holding the same counts
   is used as it is (and kept), else it is created and loaded again.
2. The read queries the pages call (bench/console_queries.py), in this process, timed
   over ``--iterations`` runs each (p50/p99), each statement's EXPLAIN (ANALYZE,
   BUFFERS) summarised as the indexes it used or the tables it read whole.
3. The real app (bench/console_http.py): ``aixiang serve`` on a free port against that
   database and Redis, a staff account, ``--clients`` signed-in clients clicking through
   the pages for ``--duration`` seconds; per page p50/p99 as the clients see it on
   loopback, errors, and each console worker's RSS at the end.

Asserts nothing about time; drops the database at the end unless ``--keep``/``--reuse``.

    .venv/bin/python bench/console.py [--reuse] [--keep] [--scale 1.0] [--iterations 200]
        [--duration 60] [--clients 20] [--think 1.0] [--workers 2] [--only queries|http]
        [--database NAME]

Environment: AIXIANG_BENCH_SERVER_URL (PostgreSQL server, default
postgresql://postgres@127.0.0.1:5432/postgres), AIXIANG_BENCH_REDIS_URL (default
redis://127.0.0.1:6379/8; only keys with a TTL are added).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.console_data import Sizes, expected_counts, load, loaded_counts  # noqa: E402
from bench.console_http import click_through  # noqa: E402
from bench.console_queries import measure_queries  # noqa: E402
from bench.support import (  # noqa: E402
    BenchError,
    create_database,
    database_url,
    drop_database,
    python_speed_ms,
    redis_url,
    server_url,
)
from models.migrate import upgrade  # noqa: E402

DATABASE_NAME = "aixiang_console_bench"
REDIS_DATABASE = 8


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="Use the database a previous run kept if it holds the same counts (and keep it).",
    )
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="Every count times this (1.0: issue #15's)."
    )
    parser.add_argument("--iterations", type=int, default=200, help="Runs per query (p50/p99).")
    parser.add_argument("--duration", type=float, default=60.0, help="Seconds of clicking.")
    parser.add_argument("--clients", type=int, default=20, help="Signed-in staff at once.")
    parser.add_argument(
        "--think", type=float, default=1.0, help="Mean seconds between one client's clicks."
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers.")
    parser.add_argument("--only", choices=("queries", "http"), help="Run one part only.")
    parser.add_argument(
        "--database",
        default=DATABASE_NAME,
        help=f"The database to seed or reuse (default {DATABASE_NAME}), so that two people "
        "on one server can each run the bench on a copy of their own.",
    )
    args = parser.parse_args()
    if min(args.scale, args.iterations, args.duration, args.clients) <= 0 or args.think < 0:
        parser.error("--scale, --iterations, --duration and --clients must be above 0")
    return args


def prepared_database(
    sizes: Sizes,
    reuse: bool,
    name: str = DATABASE_NAME,
    extra: Extra | None = None,
) -> str:
    """The URL of a migrated, loaded database ``name``: the kept one if ``reuse`` and its
    counts match ``sizes`` (and ``extra``'s), else a fresh one, loaded with
    bench/console_data.py's data and then ``extra``'s, if any."""
    url = database_url(server_url(), name)
    expected = expected_counts(sizes) if extra is None else extra.counts(sizes)
    if reuse and _holds(url, expected):
        upgrade(url)
        print(f"database {name}: reused, it holds {expected}")
        return url
    url = create_database(server_url(), name)
    started = time.perf_counter()
    upgrade(url)
    print(f"database {name}: migrated in {time.perf_counter() - started:.1f} s")
    engine = create_engine(url)
    try:
        seconds = load(engine, sizes)
        if extra is not None:
            seconds += extra.load(engine, sizes)
        counts = loaded_counts(engine)
    finally:
        engine.dispose()
    print(f"seeded in {seconds:.0f} s: {counts}")
    return url


class Extra(Protocol):
    """More data another bench loads on top of the console's, and the counts it leaves."""

    def counts(self, sizes: Sizes) -> dict[str, int]: ...

    def load(self, engine: Engine, sizes: Sizes) -> float: ...


def _holds(url: str, expected: dict[str, int]) -> bool:
    """Whether the database at ``url`` exists and holds the ``expected`` counts."""
    engine = create_engine(url)
    try:
        return loaded_counts(engine) == expected
    except SQLAlchemyError:  # absent, unreachable or not migrated: load it afresh
        return False
    finally:
        engine.dispose()


def machine_line() -> str:
    load1, load5, _ = os.getloadavg()
    return (
        f"load average {load1:.1f} (5 min {load5:.1f}) on {os.cpu_count()} cores, "
        f"Python speed loop {python_speed_ms():.0f} ms"
    )


def bench(args: argparse.Namespace) -> None:
    sizes = Sizes.scaled(args.scale)
    url = prepared_database(sizes, args.reuse, args.database)
    try:
        engine = create_engine(url)
        with engine.connect() as connection:
            commit = connection.execute(text("SELECT version_num FROM alembic_version"))
            print(f"schema at {commit.scalar_one()}; {machine_line()}")
        engine.dispose()
        if args.only in (None, "queries"):
            measure_queries(url, args.iterations)
            print(f"\nafter the queries: {machine_line()}")
        if args.only in (None, "http"):
            click_through(url, redis_url(REDIS_DATABASE), args)
            print(f"\nafter the clicking: {machine_line()}")
    finally:
        if not (args.keep or args.reuse):
            drop_database(url)


def main() -> None:
    try:
        bench(parse_args())
    except BenchError as exc:
        sys.exit(f"bench/console.py: {exc}")


if __name__ == "__main__":
    main()
