"""The impact dashboard and a broadcast's fan-out at scale (issue #16, item 8).

Issue #16: at part 1's scale (200,000 needs, 100,000 residents, 10,000 events, 1,000,000
sign-ups) the dashboard's full page under 300 ms server time for any period and filter;
writing a broadcast's outbox rows for 1,000,000 residents under 60 s, set-based, with
progress.

1. The data: bench/console_data.py's club, plus villages, event tags and residents up to
   1,000,000 (bench/dashboard_data.py), in its own database, aixiang_dashboard_bench,
   migrated with the project's migrations. Without ``--reuse`` it is created afresh;
   with ``--reuse`` a database holding the same counts is used as it is (and kept),
   else it is created and loaded again.
2. ``dashboard`` (bench/dashboard_reads.py): for each period (month, quarter, year, a
   custom range, all time) and filter (none, a village, a tag, both), the models/impact
   reads the page's tables are built from, in this process, then the full page through
   ``aixiang serve``, signed in as staff; p50/p99 over ``--iterations`` runs each.
3. ``fanout`` (bench/fanout_write.py): a text broadcast to everyone, created and fanned
   out as ``aixiang broadcast`` does it; the seconds to write and commit its rows, its
   progress meanwhile. Its rows are deleted afterwards.

Asserts nothing about time; drops the database at the end unless ``--keep``/``--reuse``.

    .venv/bin/python bench/dashboard.py [--reuse] [--keep] [--scale 1.0]
        [--iterations 30] [--only dashboard|fanout]

Environment: AIXIANG_BENCH_SERVER_URL (PostgreSQL server, default
postgresql://postgres@127.0.0.1:5432/postgres), AIXIANG_BENCH_REDIS_URL (default
redis://127.0.0.1:6379/4; only keys with a TTL are added).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.console import machine_line, prepared_database  # noqa: E402
from bench.console_data import Sizes  # noqa: E402
from bench.dashboard_data import DashboardData  # noqa: E402
from bench.dashboard_reads import measure_figures, measure_page  # noqa: E402
from bench.fanout_write import measure_fanout  # noqa: E402
from bench.support import BenchError, drop_database, redis_url  # noqa: E402

DATABASE_NAME = "aixiang_dashboard_bench"
REDIS_DATABASE = 4


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="Use the database a previous run kept if it holds the same counts (and keep it).",
    )
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="Every count times this (1.0: issue #16's)."
    )
    parser.add_argument(
        "--iterations", type=int, default=30, help="Runs per period and filter (p50/p99)."
    )
    parser.add_argument("--only", choices=("dashboard", "fanout"), help="Run one part only.")
    args = parser.parse_args()
    if min(args.scale, args.iterations) <= 0:
        parser.error("--scale and --iterations must be above 0")
    return args


def bench(args: argparse.Namespace) -> None:
    url = prepared_database(Sizes.scaled(args.scale), args.reuse, DATABASE_NAME, DashboardData())
    try:
        print(machine_line())
        if args.only in (None, "dashboard"):
            measure_figures(url, args.iterations)
            measure_page(url, redis_url(REDIS_DATABASE), args.iterations)
            print(f"\nafter the dashboard: {machine_line()}")
        if args.only in (None, "fanout"):
            measure_fanout(url)
            print(f"\nafter the fan-out: {machine_line()}")
    finally:
        if not (args.keep or args.reuse):
            drop_database(url)


def main() -> None:
    try:
        bench(parse_args())
    except BenchError as exc:
        sys.exit(f"bench/dashboard.py: {exc}")


if __name__ == "__main__":
    main()
