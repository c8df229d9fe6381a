"""Needs at scale: staff queries over 1,000,000 messages, 100,000 residents, 200,000 needs.

Creates its own PostgreSQL database (aixiang_bench_needs), migrates it with the project's
migrations, bulk-loads it with generate_series inside the server (no rows cross the
wire), then times what staff run most:

- ``aixiang needs list --status submitted`` (the CLI's query, newest 50, through
  models.needs.queries.list_needs, and the whole command as a process would run it);
- an aggregate of the ``needs_overview`` view by category (count, open, median hours to
  acknowledge, mean hours to resolve, total demand);

and prints each one's median time over several runs and the indexes its EXPLAIN plan
uses. For comparison it also times the same aggregate with acknowledged/resolved times
derived from need_history instead of the need's own columns. Asserts nothing about time;
drops the database at the end (``--keep`` keeps it).

    .venv/bin/python bench/needs.py [--runs 7] [--keep]
    .venv/bin/python bench/needs.py --reuse [--keep]   # time a kept database again

Environment: AIXIANG_BENCH_SERVER_URL (PostgreSQL server, default
postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import Connection, Engine, create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import (  # noqa: E402
    TICKS_PER_S,
    BenchError,
    cpu_ticks,
    create_database,
    database_url,
    drop_database,
    server_url,
)
from bot.cli.main import main as cli_main  # noqa: E402
from models.db import make_session_factory  # noqa: E402
from models.migrate import upgrade  # noqa: E402
from models.needs.queries import list_needs  # noqa: E402

DATABASE_NAME = "aixiang_bench_needs"
RESIDENTS = 100_000
MESSAGES = 1_000_000
NEEDS = 200_000
PARTNERS = 50
HOT_NEEDS = 2_000
LOADED_TABLES = ("resident", "inbound_message", "partner", "need", "need_history")

# Status by a hash of the id, in percent: 10 submitted, 15 acknowledged, 15 in progress,
# 45 resolved, 8 declined, 7 duplicate (``s.status`` for row ``g``; bench/console_data.py
# loads its needs with it too). Ages spread over a year, newest last.
STATUS_BY_HASH = """
    CROSS JOIN LATERAL (SELECT (g::bigint * 2654435761) % 100 AS h) AS k
    CROSS JOIN LATERAL (
        SELECT CASE WHEN k.h < 10 THEN 'submitted'
                    WHEN k.h < 25 THEN 'acknowledged'
                    WHEN k.h < 40 THEN 'in_progress'
                    WHEN k.h < 85 THEN 'resolved'
                    WHEN k.h < 93 THEN 'declined'
                    ELSE 'duplicate' END AS status
    ) AS s
"""
LOAD_STATEMENTS: tuple[tuple[str, str], ...] = (
    (
        "residents",
        f"""
        INSERT INTO resident (openid, subscribed, broadcast_opt_out, language,
                              privacy_consent_at, created_at)
        SELECT 'o-bench-' || g, true, false, CASE WHEN g % 10 = 0 THEN 'en' END,
               timestamptz '2025-11-01' + g * interval '4 minutes',
               timestamptz '2025-11-01' + g * interval '4 minutes'
        FROM generate_series(1, {RESIDENTS}) AS g
        """,
    ),
    (
        "messages",
        f"""
        INSERT INTO inbound_message (resident_id, dedupe_key, msg_id, msg_type, content,
                                     reply, received_at)
        SELECT 1 + (g::bigint * 7919) % {RESIDENTS}, 'msg:' || g, g, 'text', '帮助',
               '爱乡共建俱乐部 · 您可以发送……',
               timestamptz '2025-11-21' + g * interval '30 seconds'
        FROM generate_series(1, {MESSAGES}) AS g
        """,
    ),
    (
        "partners",
        f"""
        INSERT INTO partner (name, kind, created_at)
        SELECT 'partner ' || g,
               (ARRAY['government', 'enterprise', 'ngo', 'school', 'volunteer'])[1 + g % 5],
               timestamptz '2025-11-01'
        FROM generate_series(1, {PARTNERS}) AS g
        """,
    ),
    (
        "needs",
        f"""
        INSERT INTO need (id, resident_id, category, description, status, place, partner_id,
                          created_at, updated_at, acknowledged_at, resolved_at)
        SELECT g, 1 + (g::bigint * 104729) % {RESIDENTS},
               (ARRAY['education', 'environment', 'infrastructure', 'jobs',
                      'elderly_children', 'other'])[1 + (g * 31) % 6],
               '需求描述 ' || g || '：村口路灯不亮，晚上出行不便，希望尽快维修。',
               s.status,
               CASE WHEN g % 3 = 0 THEN '下沙村 ' || (g % 40) || ' 组' END,
               CASE WHEN s.status IN ('acknowledged', 'in_progress', 'resolved')
                    THEN 1 + g % {PARTNERS} END,
               t.created,
               COALESCE(t.resolved, t.acknowledged, t.created),
               t.acknowledged,
               t.resolved
        FROM generate_series(1, {NEEDS}) AS g
        {STATUS_BY_HASH}
        CROSS JOIN LATERAL (
            SELECT timestamptz '2025-11-21' + g * interval '150 seconds' AS created
        ) AS c
        CROSS JOIN LATERAL (
            SELECT c.created,
                   CASE WHEN s.status IN ('acknowledged', 'in_progress', 'resolved')
                        THEN c.created + (1 + (g * 37) % 72) * interval '1 hour' END
                       AS acknowledged,
                   CASE WHEN s.status = 'resolved'
                        THEN c.created + (1 + (g * 37) % 72 + 1 + g % 240)
                             * interval '1 hour' END AS resolved
        ) AS t
        """,
    ),
    ("need id sequence", "SELECT setval(pg_get_serial_sequence('need', 'id'), max(id)) FROM need"),
    (
        "duplicates",
        f"""
        WITH hot AS (
            SELECT row_number() OVER (ORDER BY id) AS rn, id FROM need
            WHERE status <> 'duplicate' AND id % 53 = 0 LIMIT {HOT_NEEDS}
        )
        UPDATE need AS d SET duplicate_of_id = hot.id
        FROM hot WHERE d.status = 'duplicate' AND hot.rn = 1 + (d.id / 7) % {HOT_NEEDS}
        """,
    ),
    (
        "history",
        """
        INSERT INTO need_history (need_id, by, from_status, to_status, note, public,
                                  duplicate_of_id, created_at)
        SELECT id, 'resident', NULL, 'submitted', NULL::text, false, NULL::integer, created_at
        FROM need
        UNION ALL
        SELECT id, 'staff', 'submitted', 'acknowledged', NULL, false, NULL, acknowledged_at
        FROM need WHERE acknowledged_at IS NOT NULL
        UNION ALL
        SELECT id, 'staff', 'acknowledged', 'in_progress', NULL, false, NULL,
               acknowledged_at + interval '1 hour'
        FROM need WHERE status IN ('in_progress', 'resolved')
        UNION ALL
        SELECT id, 'staff', 'in_progress', 'resolved', '已处理', true, NULL, resolved_at
        FROM need WHERE status = 'resolved'
        UNION ALL
        SELECT id, 'staff', 'submitted', status, '不在服务范围', true, duplicate_of_id,
               created_at + interval '1 day'
        FROM need WHERE status IN ('declined', 'duplicate')
        """,
    ),
)

OVERVIEW_BY_CATEGORY = """
    SELECT category,
           count(*) AS needs,
           count(*) FILTER (WHERE status IN ('submitted', 'acknowledged', 'in_progress'))
               AS open,
           avg(hours_to_acknowledge) AS mean_hours_to_acknowledge,
           avg(hours_to_resolve) AS mean_hours_to_resolve,
           sum(demand_count) FILTER (WHERE status <> 'duplicate') AS demand
    FROM needs_overview
    GROUP BY category
    ORDER BY category
"""

MEDIAN_BY_CATEGORY = """
    SELECT category,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY hours_to_acknowledge)
               AS median_hours_to_acknowledge
    FROM needs_overview
    GROUP BY category
"""

HISTORY_BY_CATEGORY = """
    WITH reached AS (
        SELECT need_id,
               min(created_at) FILTER (WHERE to_status = 'acknowledged') AS acknowledged_at,
               min(created_at) FILTER (WHERE to_status = 'resolved') AS resolved_at
        FROM need_history
        WHERE to_status IN ('acknowledged', 'resolved')
        GROUP BY need_id
    )
    SELECT n.category,
           count(*) AS needs,
           count(*) FILTER (WHERE n.status IN ('submitted', 'acknowledged', 'in_progress'))
               AS open,
           avg(date_part('epoch', r.acknowledged_at - n.created_at) / 3600)
               AS mean_hours_to_acknowledge,
           avg(date_part('epoch', r.resolved_at - n.created_at) / 3600) AS mean_hours_to_resolve
    FROM need n LEFT JOIN reached r ON r.need_id = n.id
    GROUP BY n.category
    ORDER BY n.category
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="Timed runs per query (median).")
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="Time the database a --keep run left, without loading it again.",
    )
    args = parser.parse_args()
    server = server_url()
    if args.reuse:
        url_text = database_url(server, DATABASE_NAME)
    else:
        try:
            url_text = create_database(server, DATABASE_NAME)
        except BenchError as exc:
            raise SystemExit(f"bench/needs.py: {exc}") from None
    try:
        run(url_text, args.runs, load_data=not args.reuse)
    finally:
        if not args.keep:
            drop_database(url_text)


def run(url: str, runs: int, load_data: bool) -> None:
    engine = create_engine(url)
    if load_data:
        started = time.perf_counter()
        upgrade(url)
        print(f"database {DATABASE_NAME}: migrated in {time.perf_counter() - started:.1f} s")
        load(engine)
    print_sizes(engine)

    session_factory = make_session_factory(engine)

    def list_submitted() -> Any:
        with session_factory() as db:
            return list_needs(db, status="submitted", limit=50)

    rows = list_submitted()
    print(f"\nload average before timing: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"\nneeds list --status submitted: {len(rows)} rows, newest {rows[0].need.ref}")
    report("list_needs(status='submitted', limit=50)", timed(list_submitted, runs))
    report_command(url, runs)
    list_sql = (
        "SELECT need.*, partner.name FROM need LEFT OUTER JOIN partner "
        "ON partner.id = need.partner_id WHERE need.status = 'submitted' "
        "ORDER BY need.created_at DESC, need.id DESC LIMIT 50"
    )
    explain(engine, list_sql)
    report_cpu(engine, list_sql, 200)
    ids = ", ".join(str(row.need.id) for row in rows)
    explain(
        engine,
        f"SELECT duplicate_of_id, count(*) FROM need WHERE duplicate_of_id IN ({ids}) "
        "GROUP BY duplicate_of_id",
    )

    print("\nneeds_overview aggregated by category:")
    with engine.connect() as connection:
        for row in connection.execute(text(OVERVIEW_BY_CATEGORY)):
            print(
                f"  {row.category:<17} needs {row.needs:>6}  open {row.open:>6}  "
                f"mean h to ack {row.mean_hours_to_acknowledge:5.1f}  "
                f"mean h to resolve {float(row.mean_hours_to_resolve):6.1f}  "
                f"demand {row.demand:>6}"
            )
    report("needs_overview by category", timed(query(engine, OVERVIEW_BY_CATEGORY), runs))
    report(
        "baseline on this machine now: bare count(*) of need by category",
        timed(query(engine, "SELECT category, count(*) FROM need GROUP BY category"), runs),
    )
    explain(engine, OVERVIEW_BY_CATEGORY)
    report_cpu(engine, OVERVIEW_BY_CATEGORY, runs)
    report(
        "median hours to acknowledge by category", timed(query(engine, MEDIAN_BY_CATEGORY), runs)
    )
    report(
        "the first aggregate with times from need_history (comparison)",
        timed(query(engine, HISTORY_BY_CATEGORY), runs),
    )
    print(f"\nload average after timing: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    engine.dispose()


def load(engine: Engine) -> None:
    """Bulk-load with the tables' secondary indexes and constraints set aside, then
    rebuild them once: building an index over sorted rows beats a million inserts."""
    total = time.perf_counter()
    with engine.begin() as connection:
        dropped = drop_secondary_structures(connection)
    for name, statement in LOAD_STATEMENTS:
        started = time.perf_counter()
        with engine.begin() as connection:
            connection.execute(text(statement))
        print(f"  loaded {name:<17} {time.perf_counter() - started:6.1f} s")
    started = time.perf_counter()
    with engine.begin() as connection:
        for statement in dropped:
            connection.execute(text(statement))
        connection.execute(text("ANALYZE"))
    print(
        f"  rebuilt {len(dropped)} indexes and constraints, analyzed "
        f"{time.perf_counter() - started:6.1f} s"
    )
    print(f"load: {time.perf_counter() - total:.1f} s")


def drop_secondary_structures(connection: Connection) -> list[str]:
    """Drop the loaded tables' foreign keys, unique constraints and plain indexes;
    returns the statements that recreate them exactly (the migration's definitions)."""
    tables = ", ".join(f"'{table}'" for table in LOADED_TABLES)
    constraints = connection.execute(
        text(
            f"""
            SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid)
            FROM pg_constraint
            WHERE conrelid::regclass::text IN ({tables}) AND contype IN ('f', 'u')
            ORDER BY contype DESC
            """
        )
    ).all()
    indexes = connection.execute(
        text(
            f"""
            SELECT i.indexname, i.indexdef FROM pg_indexes i
            WHERE i.schemaname = 'public' AND i.tablename IN ({tables})
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
            """
        )
    ).all()
    for table, name, _, _ in constraints:
        connection.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
    for name, _ in indexes:
        connection.execute(text(f'DROP INDEX "{name}"'))
    unique = [
        f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
        for table, name, kind, definition in constraints
        if kind == "u"
    ]
    foreign = [
        f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
        for table, name, kind, definition in constraints
        if kind == "f"
    ]
    return [*unique, *(definition for _, definition in indexes), *foreign]


def print_sizes(engine: Engine) -> None:
    with engine.connect() as connection:
        for table in ("resident", "inbound_message", "need", "need_history", "partner"):
            rows = connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            print(f"  {table:<16} {rows:>9} rows")


def query(engine: Engine, sql: str) -> Callable[[], Any]:
    def run_query() -> Any:
        with engine.connect() as connection:
            return connection.execute(text(sql)).all()

    return run_query


def timed(action: Callable[[], Any], runs: int) -> list[float]:
    action()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return times


def report(what: str, times: list[float]) -> None:
    print(
        f"  {what}: median {statistics.median(times):.1f} ms "
        f"(min {min(times):.1f}, max {max(times):.1f}, {len(times)} runs)"
    )


def report_cpu(engine: Engine, sql: str, runs: int) -> None:
    """CPU time the server spends on one run, from its process's /proc counters.

    Wall-clock times on a shared machine measure the neighbours too; CPU time of the
    backend (parallel workers off, so one process does all the work) does not. Needs the
    server on this machine; says so and skips otherwise.
    """
    with engine.connect() as connection:
        connection.execute(text("SET max_parallel_workers_per_gather = 0"))
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        if not Path(f"/proc/{pid}/stat").exists():
            print("    server CPU: the server is not on this machine; not measured")
            return
        connection.execute(text(sql)).all()
        before = cpu_ticks(pid)
        for _ in range(runs):
            connection.execute(text(sql)).all()
        used = cpu_ticks(pid) - before
    per_run = used / TICKS_PER_S * 1000 / runs
    print(f"    server CPU: {per_run:.1f} ms per run (serial plan, mean of {runs})")


def report_command(url: str, runs: int) -> None:
    """The whole staff command, as `aixiang needs list --status submitted` runs it."""
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "config.toml"
        config.write_text("")
        runner = CliRunner(env={"AIXIANG_CONFIG": str(config), "AIXIANG_DATABASE_URL": url})

        def command() -> None:
            result = runner.invoke(cli_main, ["needs", "list", "--status", "submitted"])
            if result.exit_code != 0:
                raise SystemExit(f"needs list failed: {result.output}")

        report("aixiang needs list --status submitted (whole command)", timed(command, runs))


def explain(engine: Engine, sql: str) -> None:
    with engine.connect() as connection:
        plan = connection.execute(text(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")).scalar_one()
    top = plan[0] if isinstance(plan, list) else json.loads(plan)[0]
    nodes = list(walk(top["Plan"]))
    indexes = sorted({f"{n['Index Name']} ({n['Node Type']})" for n in nodes if "Index Name" in n})
    scans = sorted({f"{n['Relation Name']}" for n in nodes if n["Node Type"] == "Seq Scan"})
    print(f"  EXPLAIN: {top['Execution Time']:.1f} ms in the server")
    print(f"    indexes used: {', '.join(indexes) or 'none'}")
    print(f"    sequential scans: {', '.join(scans) or 'none'}")


def walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from walk(child)


if __name__ == "__main__":
    main()
