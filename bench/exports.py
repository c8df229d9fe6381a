"""The exports benchmark (issue #16 item 8): the needs export of 200,000 needs as XLSX
and as CSV, each in a process of its own, measuring rows a second and the growth of the
process's peak memory (its maximum resident set, ``getrusage``) during the export: from
after a first small export (imports, the catalog, the connection), and from before it.

The data is bench/console_data.py's club at a smaller scale beside its 200,000 needs
(residents, partners, a few events and messages), in a database of its own,
aixiang_export_bench, dropped afterwards unless ``--keep`` (or ``--reuse``, which keeps it
and uses it again when its counts match). Each export runs the code the console's
background job and ``aixiang export`` run: ``scheduler.exports.runs.export_to_file``, every
need of every status, as an admin, headers in Chinese.

Besides rows a second of wall time, it prints rows per second of the exporting process's
own CPU time: on a shared, loaded machine that is the steadier figure (PostgreSQL's
share of the work, in its own process, is not in it).

The goals (issue #16): XLSX at 20,000 rows/s or more, CSV at 100,000 rows/s or more, each
with the memory growth under 50 MB. Nothing is asserted; the figures are printed.

    make bench-exports            # or: .venv/bin/python bench/exports.py [--scale 0.1]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from datetime import UTC
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.console import machine_line  # noqa: E402
from bench.console_data import NOW, Sizes, load, loaded_counts  # noqa: E402
from bench.support import (  # noqa: E402
    BenchError,
    create_database,
    database_url,
    drop_database,
    server_url,
)
from models.migrate import upgrade  # noqa: E402

DATABASE_NAME = "aixiang_export_bench"
NEEDS = 200_000
GOALS = {"xlsx": 20_000, "csv": 100_000}
MEMORY_GOAL_MB = 50


def sizes_for(scale: float) -> Sizes:
    """200,000 needs (times ``scale``) with a small club around them: the export reads
    needs and their partners, and the rest only has to exist."""
    needs = max(10, round(NEEDS * scale))
    return Sizes(
        residents=max(10, needs // 4), messages=10, needs=needs, events=10, signups_per_event=1
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="needs: 200,000 times this")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--reuse", action="store_true", help="use the kept database if it holds the sizes"
    )
    return parser.parse_args()


def prepared_database(sizes: Sizes, reuse: bool) -> str:
    url = database_url(server_url(), DATABASE_NAME)
    if reuse:
        engine = create_engine(url)
        try:
            if loaded_counts(engine)["need"] == sizes.needs:
                print(f"database {DATABASE_NAME}: reused")
                return url
        except SQLAlchemyError:
            pass
        finally:
            engine.dispose()
    url = create_database(server_url(), DATABASE_NAME)
    upgrade(url)
    engine = create_engine(url)
    try:
        seconds = load(engine, sizes)
        print(f"seeded in {seconds:.0f} s: {loaded_counts(engine)}")
    finally:
        engine.dispose()
    return url


def peak_rss_mb() -> float:
    """The process's peak resident memory so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def export_once(url: str, fmt: str, folder: str, queue: Any) -> None:
    """In a process of its own: one small export first (imports, connection, caches),
    then the whole needs list, timed, with the peak memory before and after."""
    from bot.config.sections import Config
    from models.accounts.roles import Role
    from models.audit import Actor
    from models.db import make_engine, make_session_factory
    from models.exports.kinds import ExportFormat
    from models.exports.queries import ExportScope
    from scheduler.exports.runs import Asked, Exporter, ExportSettings, export_to_file

    settings = ExportSettings.of(Config())
    exporter = Exporter(Actor.os_user("bench"), ExportScope(Role.ADMIN), "zh")
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    now = NOW.astimezone(UTC)
    warm = Asked("needs", {"status": "", "age": "700"}, ExportFormat(fmt))
    start = peak_rss_mb()
    with sessions() as db:
        export_to_file(db, exporter, warm, settings, Path(folder) / f"warm.{fmt}", now)
    before = peak_rss_mb()
    asked = Asked("needs", {"status": ""}, ExportFormat(fmt))
    path = Path(folder) / f"needs.{fmt}"
    started, cpu = time.perf_counter(), time.process_time()
    with sessions() as db:
        rows = export_to_file(db, exporter, asked, settings, path, now)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    engine.dispose()
    queue.put(
        {
            "rows": rows,
            "seconds": seconds,
            "cpu_seconds": cpu_seconds,
            "growth_mb": peak_rss_mb() - before,
            "growth_with_warm_up_mb": peak_rss_mb() - start,
            "file_mb": path.stat().st_size / 2**20,
        }
    )


def measure(url: str, fmt: str) -> dict[str, Any]:
    spawn = multiprocessing.get_context("spawn")
    queue = spawn.Queue()
    with tempfile.TemporaryDirectory(prefix="aixiang-export-bench-") as folder:
        process = spawn.Process(target=export_once, args=(url, fmt, folder, queue))
        process.start()
        result: dict[str, Any] = queue.get()
        process.join()
    return result


def bench(args: argparse.Namespace) -> None:
    sizes = sizes_for(args.scale)
    url = prepared_database(sizes, args.reuse)
    try:
        engine = create_engine(url)
        with engine.connect() as connection:
            schema = connection.execute(text("SELECT version_num FROM alembic_version"))
            print(f"schema at {schema.scalar_one()}; {machine_line()}")
        engine.dispose()
        for fmt in ("xlsx", "csv"):
            found = measure(url, fmt)
            speed = found["rows"] / found["seconds"]
            on_cpu = found["rows"] / found["cpu_seconds"]
            print(
                f"needs export {fmt:>4}: {found['rows']:,} rows in {found['seconds']:.1f} s = "
                f"{speed:,.0f} rows/s (goal {GOALS[fmt]:,}; {on_cpu:,.0f} rows per second of "
                f"the process's CPU time), peak memory growth "
                f"{found['growth_mb']:.1f} MB (goal < {MEMORY_GOAL_MB}; "
                f"{found['growth_with_warm_up_mb']:.1f} MB with the first small export), file "
                f"{found['file_mb']:.1f} MB"
            )
            print(json.dumps({"format": fmt, **found}))
        print(f"after the exports: {machine_line()}")
    finally:
        if not (args.keep or args.reuse):
            drop_database(url)


def main() -> None:
    try:
        bench(parse_args())
    except BenchError as exc:
        sys.exit(f"bench/exports.py: {exc}")


if __name__ == "__main__":
    main()
