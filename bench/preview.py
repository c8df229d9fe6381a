"""A broadcast's preview at 1,000,000 residents.

Issue #16: the preview for "everyone" at 1,000,000 residents under 1 s. The preview
(models/broadcasts/preview.py ``preview_reach``) is what the console's preview and the
CLI's dry run call: the workers' limits read from Redis in one pipeline
(scheduler/limits.py), then the residents counted set-based by window, consent and
exclusion, the residents whose allowance is spent moved one query per 500 openids.

1. The data goes into its own database, aixiang_preview_bench, migrated with the
   project's migrations, every table filled by one ``INSERT ... SELECT`` over
   ``generate_series``: residents with varied windows (a tap seconds or minutes ago, a
   message within or beyond 48 hours, never), unfollowed and opted out ones, villages,
   unused and used subscription consents, tagged events with sign-ups. With ``--reuse`` a
   database holding the same counts is used as it is (and kept).
2. The workers' Redis state, in the bench's own Redis database (keys with a TTL, removed
   at the end): a spent allowance for one in a hundred residents whose window is open, and a
   quota pause on template messages.
3. The preview for everyone, a tag and a village, ``--iterations`` runs each: p50/p99,
   and the split it gives. The clock is fixed (the data's "now"), so a reused database
   previews the same windows.

Asserts nothing about time; drops the database at the end unless ``--keep``/``--reuse``.

    .venv/bin/python bench/preview.py [--reuse] [--keep] [--residents 1000000]
        [--iterations 20]

Environment: AIXIANG_BENCH_SERVER_URL (PostgreSQL server, default
postgresql://postgres@127.0.0.1:5432/postgres), AIXIANG_BENCH_REDIS_URL (default
redis://127.0.0.1:6379/13).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import redis
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import (  # noqa: E402
    TICKS_PER_S,
    BenchError,
    cpu_ticks,
    create_database,
    database_url,
    drop_database,
    python_speed_ms,
    redis_url,
    server_url,
)
from bot.redis_conn import connect_redis  # noqa: E402
from bot.wechat.errors import Refusal  # noqa: E402
from models.broadcasts.preview import preview_reach  # noqa: E402
from models.broadcasts.records import BroadcastSettings  # noqa: E402
from models.migrate import upgrade  # noqa: E402
from models.residents import Resident  # noqa: E402
from scheduler.limits import read_limits  # noqa: E402
from scheduler.pauses import PAUSES_KEY, Pauses  # noqa: E402
from scheduler.windows import SPENT_KEY  # noqa: E402

DATABASE_NAME = "aixiang_preview_bench"
REDIS_DATABASE = 13
# The data's clock: every window is placed around it, and the preview is taken at it.
NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
SUBSCRIBE_TEMPLATE = "SUB-BENCH"
VILLAGES = 20
EVENTS = 2_000
SIGNUPS_PER_EVENT = 100
TAG = "elderly"
AUDIENCES = ("all", f"tag:{TAG}", "village:3")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="Use the database a previous run kept if it holds the same counts (and keep it).",
    )
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    parser.add_argument("--residents", type=int, default=1_000_000, help="How many residents.")
    parser.add_argument("--iterations", type=int, default=20, help="Runs per audience.")
    args = parser.parse_args()
    if min(args.residents, args.iterations) <= 0:
        parser.error("--residents and --iterations must be above 0")
    return args


def load_statements(residents: int) -> list[tuple[str, str]]:
    """Every table's rows, one statement each. A resident's window comes from a hash of
    its number: 3 in 100 tapped within the minute, 3 tapped minutes ago, 30 wrote within
    48 hours, 60 wrote days ago, 4 never did."""
    now = f"timestamptz '{NOW.isoformat()}'"
    bucket = "((g::bigint * 7919) % 100)"
    return [
        (
            "villages",
            f"""
            INSERT INTO village (id, name, created_at)
            SELECT g, '第' || g || '村', {now} - interval '400 days'
            FROM generate_series(1, {VILLAGES}) AS g
            """,
        ),
        (
            "residents",
            f"""
            INSERT INTO resident (id, openid, subscribed, subscribed_at, language,
                                  last_interaction_at, last_interaction_kind,
                                  broadcast_opt_out, village_id, created_at)
            SELECT g, 'o-preview-bench-' || g, g % 17 <> 0, {now} - interval '300 days',
                   CASE WHEN g % 10 = 0 THEN 'en' ELSE 'zh' END,
                   CASE WHEN {bucket} < 3 THEN {now} - {bucket} * interval '15 seconds'
                        WHEN {bucket} < 6 THEN {now} - {bucket} * interval '1 minute'
                        WHEN {bucket} < 36 THEN {now} - ({bucket} - 5) * interval '90 minutes'
                        WHEN {bucket} < 96 THEN {now} - {bucket} * interval '1 day'
                   END,
                   CASE WHEN {bucket} < 6 THEN 'tap' WHEN {bucket} < 96 THEN 'message' END,
                   g % 23 = 0, 1 + g % {VILLAGES}, {now} - interval '300 days'
            FROM generate_series(1, {residents}) AS g
            """,
        ),
        (
            "consents",
            f"""
            INSERT INTO subscription_consent (resident_id, template_id, accepted_at, used_at)
            SELECT g, '{SUBSCRIBE_TEMPLATE}', {now} - interval '2 days',
                   CASE WHEN g % 11 = 0 THEN {now} - interval '1 day' END
            FROM generate_series(1, {residents}) AS g
            WHERE g % 7 = 0 OR g % 11 = 0
            """,
        ),
        (
            "events",
            f"""
            INSERT INTO event (id, title, description, place, starts_at, ends_at, capacity,
                               max_party_size, contact_required, status, published_at,
                               created_at)
            SELECT g, '活动 第' || g || '期', '欢迎村民参加。', '村委会',
                   {now} + g * interval '1 hour', {now} + g * interval '1 hour'
                   + interval '2 hours', {SIGNUPS_PER_EVENT}, 1, false, 'published',
                   {now} - interval '14 days', {now} - interval '15 days'
            FROM generate_series(1, {EVENTS}) AS g
            """,
        ),
        (
            "tags",
            f"""
            INSERT INTO tag (key, name_zh, name_en, active, created_at)
            VALUES ('{TAG}', '长者', '{TAG}', true, {now}),
                   ('family', '家庭', 'family', true, {now})
            """,
        ),
        (
            "event tags",
            f"""
            INSERT INTO event_tag (event_id, tag)
            SELECT g, CASE WHEN g % 10 = 0 THEN '{TAG}' ELSE 'family' END
            FROM generate_series(1, {EVENTS}) AS g
            """,
        ),
        (
            "sign-ups",
            f"""
            INSERT INTO signup (event_id, resident_id, party_size, status, checkin_code,
                                created_at, confirmed_at)
            SELECT ev, 1 + (ev::bigint * 7919 + k * 4729) % {residents}, 1, 'confirmed',
                   lpad(((k * 9973 + ev * 31) % 1000000)::text, 6, '0'),
                   {now} - interval '1 day', {now} - interval '1 day'
            FROM generate_series(1, {EVENTS}) AS ev
            CROSS JOIN generate_series(0, {SIGNUPS_PER_EVENT - 1}) AS k
            """,
        ),
    ]


def load(engine: Engine, residents: int) -> None:
    for name, statement in load_statements(residents):
        started = time.perf_counter()
        with engine.begin() as connection:
            connection.execute(text(statement))
        print(f"  loaded {name:<12} {time.perf_counter() - started:6.1f} s")
    started = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
    print(f"  vacuum analyze {time.perf_counter() - started:6.1f} s")


def resident_count(engine: Engine) -> int:
    with Session(engine) as db:
        return int(db.execute(select(func.count()).select_from(Resident)).scalar_one())


def prepared_database(residents: int, reuse: bool) -> str:
    url = database_url(server_url(), DATABASE_NAME)
    if reuse:
        engine = create_engine(url)
        try:
            if resident_count(engine) == residents:
                upgrade(url)
                print(f"database {DATABASE_NAME}: reused, {residents} residents")
                return url
        except SQLAlchemyError:  # absent, unreachable or not migrated: load it afresh
            pass
        finally:
            engine.dispose()
    url = create_database(server_url(), DATABASE_NAME)
    upgrade(url)
    engine = create_engine(url)
    try:
        started = time.perf_counter()
        load(engine, residents)
        print(f"seeded {residents} residents in {time.perf_counter() - started:.0f} s")
    finally:
        engine.dispose()
    return url


def seed_redis(client: redis.Redis, engine: Engine) -> int:
    """The workers' state: every 300th resident's window spent (each of them is in an
    open window: one in a hundred open windows), template messages paused."""
    window_start = NOW - timedelta(hours=48)
    with Session(engine) as db:
        rows = db.execute(
            select(Resident.openid, Resident.last_interaction_at).where(
                Resident.last_interaction_kind == "message",
                Resident.last_interaction_at > window_start,
                Resident.id % 300 == 1,
            )
        ).all()
    members = {
        f"{openid}:{int(opened.timestamp())}": int((opened + timedelta(hours=48)).timestamp())
        for openid, opened in rows
    }
    listed = list(members.items())
    for start in range(0, len(listed), 10_000):
        client.zadd(SPENT_KEY, dict(listed[start : start + 10_000]))
    client.expire(SPENT_KEY, 3600)
    Pauses(client).pause("broadcast", "template", Refusal.DAILY_QUOTA, "45009", NOW)
    client.expire(PAUSES_KEY, 3600)
    return len(members)


def percentile(times: list[float], fraction: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure(url: str, redis_location: str, iterations: int) -> None:
    """Each audience's preview ``iterations`` times on one connection: wall-clock p50/p99,
    and the CPU a run costs in this process and in its PostgreSQL backend (from /proc,
    the same server; less bent by other processes' load than the wall clock)."""
    engine = create_engine(url, pool_size=1, max_overflow=0)
    client = connect_redis(redis_location)
    settings = BroadcastSettings(
        tz=ZoneInfo("Asia/Shanghai"),
        sends_templates=True,
        subscribe_template_id=SUBSCRIBE_TEMPLATE,
    )
    try:
        spent = seed_redis(client, engine)
        print(f"Redis: {spent} spent windows, template messages paused")
        with engine.connect() as connection:
            backend = int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())
        for spec in AUDIENCES:
            times: list[float] = []
            cpu_before = time.process_time(), cpu_ticks(backend)
            for _ in range(iterations):
                started = time.perf_counter()
                live = read_limits(client, NOW, "service")
                with Session(engine) as db:
                    _, reach = preview_reach(db, spec, settings, NOW, live)
                times.append((time.perf_counter() - started) * 1000)
            own = (time.process_time() - cpu_before[0]) * 1000 / iterations
            server = (cpu_ticks(backend) - cpu_before[1]) * 1000 / TICKS_PER_S / iterations
            print(
                f"  {spec:<14} p50 {statistics.median(times):7.1f} ms, "
                f"p99 {percentile(times, 0.99):7.1f} ms ({iterations} runs); CPU a run: "
                f"{own:.0f} ms here + {server:.0f} ms PostgreSQL; "
                f"reached {reach.reached}, unfollowed {reach.excluded_unsubscribed}, "
                f"opted out {reach.excluded_opted_out}, {reach.counts()}"
            )
    finally:
        client.delete(SPENT_KEY, PAUSES_KEY)
        client.close()
        engine.dispose()


def main() -> None:
    args = parse_args()
    try:
        url = prepared_database(args.residents, args.reuse)
        try:
            print(f"Python speed loop {python_speed_ms():.0f} ms")
            measure(url, redis_url(REDIS_DATABASE), args.iterations)
        finally:
            if not (args.keep or args.reuse):
                drop_database(url)
    except BenchError as exc:
        sys.exit(f"bench/preview.py: {exc}")


if __name__ == "__main__":
    main()
