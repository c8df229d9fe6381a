"""Events at scale: 10,000 events and 1,000,000 sign-ups in PostgreSQL, through the webhook.

Creates its own database (aixiang_bench_events), migrates it with the project's
migrations and bulk-loads it with generate_series inside the server (no rows cross the
wire): 200,000 residents, 10,000 events over two years (9,000 past, 1,000 to come),
100 sign-ups per event (waitlists where the capacity is below 100, some cancellations),
about 570,000 check-ins for the past events, and audience tags.

Then it starts the real webhook (``python -m bot serve``, gunicorn) on that database and
Redis and, as WeChat would, POSTs signed messages to it:

- ``活动`` (the resident's event list: the 5 soonest events with places left), each from
  a different resident, one at a time: p50 / p99 / max;
- ``报名 N`` for upcoming events with places left, each from a different resident, one at
  a time: p50 / p99 / max;
- 200 residents sending ``报名 N`` at the same moment for one event of capacity 50, then
  the 150 offered the waitlist answering ``是`` at the same moment: throughput, and a
  check that exactly 50 are confirmed and 150 waitlisted at positions 1..150.

Finally it times the staff queries documented in docs/data-model.md over event_summary.
Asserts nothing about time; drops the database at the end (``--keep`` keeps it).

    .venv/bin/python bench/events.py [--requests 1000] [--workers 4] [--keep]

Environment: AIXIANG_BENCH_SERVER_URL (PostgreSQL server, default
postgresql://postgres@127.0.0.1:5432/postgres), AIXIANG_BENCH_REDIS_URL (default
redis://127.0.0.1:6379/12; only keys with TTLs are added).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import requests
from sqlalchemy import Engine, create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import (  # noqa: E402
    APP_ID,
    APP_SECRET,
    TICKS_PER_S,
    TOKEN,
    BenchError,
    Process,
    dedicated_database,
    free_port,
    processes,
    redis_url,
    running,
    server_env,
)
from bot.wechat.payloads import WeChatPayloads  # noqa: E402
from models.migrate import upgrade  # noqa: E402

REDIS_DATABASE = 12
DATABASE_NAME = "aixiang_bench_events"
RESIDENTS = 200_000
EVENTS = 10_000
PAST_EVENTS = 9_000
SIGNUPS_PER_EVENT = 100
RUSH = 200
RUSH_CAPACITY = 50
READY_TIMEOUT_S = 30.0
# Loaded bare, their keys and indexes rebuilt afterwards.
BULK_TABLES = ("signup", "attendance")

LOAD_STATEMENTS: tuple[tuple[str, str], ...] = (
    (
        "residents",
        f"""
        INSERT INTO resident (openid, subscribed, broadcast_opt_out, created_at)
        SELECT 'o-bench-' || g, true, false, now() - interval '800 days' + g * interval '5 min'
        FROM generate_series(1, {RESIDENTS}) AS g
        """,
    ),
    (
        "events",
        f"""
        INSERT INTO event (id, title, description, place, starts_at, ends_at, capacity,
                           max_party_size, contact_required, status, published_at,
                           cancelled_at, cancel_reason, created_at)
        SELECT g, '共建活动 ' || g, '一起为社区做点事：活动 ' || g || ' 的介绍。',
               '社区活动中心 ' || (g % 20) || ' 号厅', s.starts_at,
               s.starts_at + interval '2 hours',
               80 + (g * 37) % 60,
               CASE WHEN g % 3 = 0 THEN 4 ELSE 1 END,
               g % 7 = 0,
               CASE WHEN g % 50 = 0 THEN 'cancelled'
                    WHEN g <= {PAST_EVENTS} THEN 'finished'
                    ELSE 'published' END,
               s.starts_at - interval '20 days',
               CASE WHEN g % 50 = 0 THEN s.starts_at - interval '1 day' END,
               CASE WHEN g % 50 = 0 THEN '场地维修' END,
               s.starts_at - interval '21 days'
        FROM generate_series(1, {EVENTS}) AS g
        CROSS JOIN LATERAL (
            SELECT CASE WHEN g <= {PAST_EVENTS}
                        THEN date_trunc('hour', now()) - interval '730 days'
                             + g * interval '7000 seconds'
                        ELSE date_trunc('hour', now()) + interval '1 hour'
                             + (g - {PAST_EVENTS}) * interval '130 minutes'
                   END AS starts_at
        ) AS s
        """,
    ),
    (
        "event id sequence",
        "SELECT setval(pg_get_serial_sequence('event', 'id'), max(id)) FROM event",
    ),
    (
        "tags",
        """
        INSERT INTO event_tag (event_id, tag)
        SELECT id, (ARRAY['women', 'children', 'elderly', 'volunteers'])[1 + id % 4] FROM event
        UNION ALL
        SELECT id, 'volunteers' FROM event WHERE id % 4 <> 3 AND id % 5 = 0
        """,
    ),
    (
        "sign-ups",
        f"""
        INSERT INTO signup (event_id, resident_id, party_size, status, waitlist_position,
                            checkin_code, created_at, confirmed_at, cancelled_at)
        SELECT e.id, 1 + (e.id::bigint * 7919 + i) % {RESIDENTS}, 1, st.status,
               CASE WHEN st.status = 'waitlisted' THEN i - e.capacity END,
               lpad(i::text, 6, '0'),
               e.created_at + i * interval '10 minutes',
               CASE WHEN st.status <> 'waitlisted' THEN e.created_at + i * interval '10 minutes'
               END,
               CASE WHEN st.status = 'cancelled' THEN e.starts_at - interval '2 days' END
        FROM event e
        CROSS JOIN generate_series(1, {SIGNUPS_PER_EVENT}) AS i
        CROSS JOIN LATERAL (
            SELECT CASE WHEN i > e.capacity THEN 'waitlisted'
                        WHEN i % 20 = 0 AND e.capacity >= {SIGNUPS_PER_EVENT} THEN 'cancelled'
                        ELSE 'confirmed' END AS status
        ) AS st
        """,
    ),
    ("statistics", "ANALYZE event, signup"),
    (
        "check-ins",
        """
        INSERT INTO attendance (event_id, resident_id, signup_id, checked_in_at, method,
                                walk_in, party_size)
        SELECT s.event_id, s.resident_id, s.id, e.starts_at + (s.id % 30) * interval '1 minute',
               CASE WHEN s.id % 3 = 0 THEN 'code' ELSE 'qr' END, false, s.party_size
        FROM signup s JOIN event e ON e.id = s.event_id
        WHERE e.status = 'finished' AND s.status = 'confirmed' AND s.id % 10 < 7
        """,
    ),
)

ATTENDANCE_BY_TAG = """
    SELECT t.tag, SUM(s.confirmed) AS confirmed, SUM(s.attended) AS attended,
           ROUND(1.0 * SUM(s.attended) / NULLIF(SUM(s.confirmed), 0), 3) AS attendance_rate
    FROM event_summary s JOIN event_tag t ON t.event_id = s.event_id
    GROUP BY t.tag ORDER BY attendance_rate DESC, t.tag
"""
UNIQUE_THIS_YEAR = """
    SELECT COUNT(DISTINCT a.resident_id) FROM attendance a JOIN event e ON e.id = a.event_id
    WHERE e.starts_at >= date_trunc('year', now()) AND e.starts_at < now()
"""
ONE_EVENT_SUMMARY = "SELECT * FROM event_summary WHERE event_id = 5000"

# Upcoming events a resident can sign up to in one message: places left, no questions.
OPEN_EVENTS = f"""
    SELECT id FROM event
    WHERE status = 'published' AND starts_at > now() AND max_party_size = 1
      AND NOT contact_required AND capacity >= 120
    ORDER BY id LIMIT {EVENTS}
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="timed messages per kind")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    try:
        with dedicated_database(DATABASE_NAME, keep=args.keep) as url:
            bench(url, redis_url(REDIS_DATABASE), args)
    except BenchError as exc:
        raise SystemExit(f"bench: {exc}") from None


# Database -------------------------------------------------------------------------------


@contextmanager
def bare_tables(engine: Engine, tables: tuple[str, ...]) -> Iterator[None]:
    """Load ``tables`` without their foreign keys, unique constraints and indexes, then put
    them back exactly as the migrations made them: building an index once over a million
    rows is much cheaper than updating five of them a row at a time."""
    constraints: list[tuple[str, str, str]] = []
    indexes: list[tuple[str, str]] = []
    with engine.begin() as connection:
        for table in tables:
            for name, definition in connection.execute(
                text(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = CAST(:table AS regclass) AND contype IN ('f', 'u')"
                ),
                {"table": table},
            ):
                constraints.append((table, name, definition))
            for name, definition in connection.execute(
                text(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = :table "
                    "AND indexname NOT IN (SELECT conname FROM pg_constraint "
                    "WHERE conrelid = CAST(:table AS regclass))"
                ),
                {"table": table},
            ):
                indexes.append((name, definition))
        for table, name, _ in constraints:
            connection.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
        for name, _ in indexes:
            connection.execute(text(f'DROP INDEX "{name}"'))
    yield
    started = time.perf_counter()
    with engine.begin() as connection:
        for _, definition in indexes:
            connection.execute(text(definition))
        for table, name, definition in constraints:
            connection.execute(text(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'))
    print(
        f"  rebuilt {len(indexes)} indexes, {len(constraints)} constraints "
        f"{time.perf_counter() - started:6.1f} s"
    )


def load(engine: Engine) -> None:
    total = time.perf_counter()
    with bare_tables(engine, BULK_TABLES):
        for name, statement in LOAD_STATEMENTS:
            started = time.perf_counter()
            with engine.begin() as connection:
                connection.execute(text(statement))
            print(f"  loaded {name:<18} {time.perf_counter() - started:6.1f} s")
    # What autovacuum would soon do: statistics, and the visibility map that lets counting
    # places read the index alone.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
    print(f"load: {time.perf_counter() - total:.1f} s")
    with engine.connect() as connection:
        for table in ("resident", "event", "event_tag", "signup", "attendance"):
            rows = connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            print(f"  {table:<11} {rows:>9} rows")


# The webhook ----------------------------------------------------------------------------------


class Webhook:
    """Signs messages as WeChat does and POSTs them to the running webhook."""

    def __init__(self, port: int, pid: int) -> None:
        self.pid = pid
        self.url = f"http://127.0.0.1:{port}/wechat"
        self.payloads = WeChatPayloads(token=TOKEN, app_id=APP_ID)
        self._local = threading.local()

    def say(self, openid: str, words: str) -> tuple[str, float]:
        """The reply text and the milliseconds from sending to the whole answer."""
        delivery = self.payloads.sign(self.payloads.text(openid, words))
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        started = time.perf_counter()
        response = session.post(self.url, params=delivery.query, data=delivery.body, timeout=30)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise BenchError(f"webhook answered HTTP {response.status_code}: {response.text[:80]}")
        return self.payloads.read_reply(response.content).get("Content", ""), elapsed


@contextmanager
def serving(database_url: str, redis_url: str, workers: int, workdir: Path) -> Iterator[Webhook]:
    port = free_port()
    env = server_env(
        workdir,
        AIXIANG_DATABASE_URL=database_url,
        AIXIANG_REDIS_URL=redis_url,
        AIXIANG_WECHAT_TOKEN=TOKEN,
        AIXIANG_WECHAT_APP_ID=APP_ID,
        AIXIANG_WECHAT_APP_SECRET=APP_SECRET,
        PYTHONPATH=str(ROOT),
    )
    command = [sys.executable, "-m", "bot", "serve", "--port", str(port), "--workers", str(workers)]
    with running("serve", command, workdir, env) as process:
        webhook = Webhook(port, process.popen.pid)
        wait_until_ready(webhook, process)
        yield webhook


def wait_until_ready(webhook: Webhook, process: Process) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise BenchError(f"the webhook exited at start: {process.log_path.read_text()[-300:]}")
        try:
            webhook.say("o-bench-ready", "帮助")
            return
        except (requests.ConnectionError, BenchError):
            time.sleep(0.2)
    raise BenchError(f"the webhook did not answer in {READY_TIMEOUT_S:.0f} s")


# Measurements -----------------------------------------------------------------------------------


def percentile(times: list[float], fraction: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def report(what: str, times: list[float], cpu_ms: float) -> None:
    print(
        f"  {what}: p50 {statistics.median(times):.1f} ms, p99 {percentile(times, 0.99):.1f} ms, "
        f"max {max(times):.1f} ms; server CPU {cpu_ms / len(times):.1f} ms/message "
        f"({len(times)} messages)"
    )


class CpuMeter:
    """CPU time used so far by the webhook's workers and this database's PostgreSQL
    backends, from /proc: what a message costs, whatever else the machine runs."""

    def __init__(self, master_pid: int) -> None:
        self.master_pid = master_pid
        self.tick_ms = 1000 / TICKS_PER_S

    def total_ms(self) -> float:
        ticks = sum(
            process.ticks
            for process in processes().values()
            if process.ppid == self.master_pid or DATABASE_NAME.encode() in process.cmdline
        )
        return ticks * self.tick_ms


def measure(
    webhook: Webhook, meter: CpuMeter, what: str, messages: list[tuple[str, str]], expect: str
) -> None:
    before = meter.total_ms()
    times = sequential(webhook, messages, expect)
    report(what, times, meter.total_ms() - before)


def sequential(webhook: Webhook, messages: list[tuple[str, str]], expect: str) -> list[float]:
    times = []
    for openid, words in messages:
        reply, elapsed = webhook.say(openid, words)
        if expect not in reply:
            raise BenchError(f"{words!r} from {openid} was answered {reply[:60]!r}")
        times.append(elapsed)
    return times


def all_at_once(webhook: Webhook, messages: list[tuple[str, str]]) -> tuple[list[str], float]:
    """Send every message from its own thread, released together; replies and wall time."""
    barrier = threading.Barrier(len(messages) + 1)

    def send(message: tuple[str, str]) -> str:
        barrier.wait()
        return webhook.say(*message)[0]

    with ThreadPoolExecutor(max_workers=len(messages)) as executor:
        futures = [executor.submit(send, message) for message in messages]
        barrier.wait()
        started = time.perf_counter()
        replies = [future.result() for future in futures]
        elapsed = time.perf_counter() - started
    return replies, elapsed


def bench(database_url: str, redis_url: str, args: argparse.Namespace) -> None:
    started = time.perf_counter()
    upgrade(database_url)
    engine = create_engine(database_url)
    print(f"database {DATABASE_NAME}: migrated in {time.perf_counter() - started:.1f} s")
    load(engine)
    rng = random.Random(20261121)
    with engine.connect() as connection:
        open_events = list(connection.execute(text(OPEN_EVENTS)).scalars())
    if not open_events:
        raise BenchError("no upcoming event with places left was loaded")

    print(f"machine load average before the webhook runs: {os.getloadavg()[0]:.1f}")
    with (
        tempfile.TemporaryDirectory() as folder,
        serving(database_url, redis_url, args.workers, Path(folder)) as webhook,
    ):
        print(f"\nwebhook: aixiang serve --workers {args.workers}, PostgreSQL + Redis")
        meter = CpuMeter(webhook.pid)
        warmup = [(f"o-bench-{rng.randint(1, RESIDENTS)}", "活动") for _ in range(50)]
        sequential(webhook, warmup, "近期活动")
        residents = iter(rng.sample(range(1, RESIDENTS), 2 * args.requests))

        helping = [(f"o-bench-{next(residents)}", "帮助") for _ in range(args.requests)]
        measure(webhook, meter, "帮助 (help: the bare webhook, baseline)", helping, "爱乡")
        listing = [(f"o-bench-{next(residents)}", "活动") for _ in range(args.requests)]
        measure(webhook, meter, "活动 (event list, page 1)", listing, "近期活动")
        signing = [
            (f"o-bench-new-{n}", f"报名 {rng.choice(open_events)}") for n in range(args.requests)
        ]
        measure(webhook, meter, "报名 N (confirmed at once)", signing, "报名成功")

        rush(engine, webhook, meter)

    print(f"machine load average after: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
    print("\nstaff queries (docs/data-model.md):")
    for name, sql in (
        ("event_summary for one event", ONE_EVENT_SUMMARY),
        ("attendance rate by tag (all events)", ATTENDANCE_BY_TAG),
        ("unique residents served this year", UNIQUE_THIS_YEAR),
    ):
        print(f"  {name}: {timed_query(engine, sql):.0f} ms")
    engine.dispose()


def rush(engine: Engine, webhook: Webhook, meter: CpuMeter) -> None:
    with engine.begin() as connection:
        event_id = connection.execute(
            text(
                "INSERT INTO event (title, description, place, starts_at, capacity, "
                "max_party_size, contact_required, status, published_at, created_at) "
                "VALUES ('抢手的活动', '', '社区花园', now() + interval '3 days', :capacity, 1, "
                "false, 'published', now(), now()) RETURNING id"
            ),
            {"capacity": RUSH_CAPACITY},
        ).scalar_one()
    residents = [f"o-bench-rush-{n}" for n in range(RUSH)]
    before = meter.total_ms()
    replies, elapsed = all_at_once(webhook, [(openid, f"报名 {event_id}") for openid in residents])
    cpu = (meter.total_ms() - before) / RUSH
    confirmed = sum("报名成功" in reply for reply in replies)
    offered = [openid for openid, reply in zip(residents, replies, strict=True) if "候补" in reply]
    print(
        f"\n  {RUSH} residents send 报名 {event_id} at once (capacity {RUSH_CAPACITY}): "
        f"{elapsed:.2f} s, {RUSH / elapsed:.0f} sign-ups/s, server CPU {cpu:.1f} ms each; "
        f"{confirmed} confirmed, {len(offered)} offered the waitlist"
    )
    before = meter.total_ms()
    replies, elapsed = all_at_once(webhook, [(openid, "是") for openid in offered])
    cpu = (meter.total_ms() - before) / max(1, len(offered))
    joined = sum("候补" in reply for reply in replies)
    print(
        f"  {len(offered)} answer 是 at once: {elapsed:.2f} s, {len(offered) / elapsed:.0f}/s, "
        f"server CPU {cpu:.1f} ms each; {joined} waitlisted"
    )
    with engine.connect() as connection:
        counts: dict[str, int] = dict(
            connection.execute(
                text("SELECT status, count(*) FROM signup WHERE event_id = :id GROUP BY status"),
                {"id": event_id},
            ).all()
        )
        positions = list(
            connection.execute(
                text(
                    "SELECT waitlist_position FROM signup WHERE event_id = :id "
                    "AND status = 'waitlisted' ORDER BY waitlist_position"
                ),
                {"id": event_id},
            ).scalars()
        )
    expected = list(range(1, RUSH - RUSH_CAPACITY + 1))
    verdict = (
        "no overbooking"
        if counts.get("confirmed") == RUSH_CAPACITY and positions == expected
        else "WRONG"
    )
    print(
        f"  in the database: {counts.get('confirmed', 0)} confirmed, "
        f"{counts.get('waitlisted', 0)} waitlisted at positions "
        f"{positions[0] if positions else '-'}..{positions[-1] if positions else '-'}: {verdict}"
    )


def timed_query(engine: Engine, sql: str) -> float:
    with engine.connect() as connection:
        connection.execute(text(sql)).all()
        started = time.perf_counter()
        connection.execute(text(sql)).all()
        return (time.perf_counter() - started) * 1000


if __name__ == "__main__":
    main()
