"""Webhook throughput and latency: the app under gunicorn on PostgreSQL + Redis, and floors.

The app (``python -m bot serve``, i.e. ``aixiang serve``), the floor (bench/floor_app.py:
signature check, XML parse, echo), the must-store floor (the floor plus a Redis claim,
one durable PostgreSQL statement and a Redis reply cache, the least issue #2 asks of each
delivery) and the naive peer (``--naive``, by default ../shared/bench/naive_app.py: what a
developer would write first, one ORM insert and commit per message, run under gunicorn
as its README says, on a database of its own) run side by side; wrk, in its own process,
drives each in turn with signed text messages for a fixed time. Every message is new (its own
MsgId, from one of ``--residents`` openids), so the app stores, dedupes and routes each
one instead of answering from its reply cache.

Prints msgs/s, p50/p99 latency, worker RSS and CPU for each, the ratios (app / naive is
a goal: at least 1.5), and the goals.
Needs wrk (``apt-get install -y wrk``), PostgreSQL and Redis; it creates and drops its own
database and only adds keys (with TTLs) to its Redis database. Asserts nothing about time.

    .venv/bin/python bench/webhook.py [--duration 20] [--connections 16]

Environment: AIXIANG_BENCH_SERVER_URL (PostgreSQL server, default
postgresql://postgres@127.0.0.1:5432/postgres), AIXIANG_BENCH_REDIS_URL (default
redis://127.0.0.1:6379/10).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import (  # noqa: E402
    APP_ID,
    APP_SECRET,
    BENCH_BACKEND,
    TOKEN,
    BenchError,
    CpuMeter,
    Process,
    dedicated_database,
    free_port,
    processes,
    python_speed_ms,
    redis_url,
    running,
    server_env,
)
from bot.gunicorn_app import server_options  # noqa: E402
from bot.wechat.payloads import WeChatPayloads  # noqa: E402
from models.migrate import upgrade  # noqa: E402

REDIS_DATABASE = 10
# Suffixed with the process id: on a machine shared with others' benchmark runs, two runs
# at once would otherwise drop each other's database.
DATABASE_NAME = f"aixiang_bench_webhook_{os.getpid()}"
NAIVE_DATABASE_NAME = f"aixiang_bench_naive_{os.getpid()}"
# The naive peer's own WeChat token and table (naive_app.py), and its gunicorn threads.
NAIVE_TOKEN = "loadtoken"
NAIVE_TABLE = "msg"
NAIVE_THREADS = 4
NAIVE_BESIDE_REPOSITORY = Path("..", "shared", "bench", "naive_app.py")
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
# What residents type most: all of these are answered with the help text.
TEXTS = ("帮助", "help", "你好")
LUA_SCRIPT = ROOT / "bench" / "webhook.lua"
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0

# The floor that also claims, stores and caches each delivery (bench/floor_app.py).
STORED = "must-store"
NAIVE = "naive"

GOAL_RATE = 1000.0
GOAL_P99_MS = 50.0
GOAL_RATIO = 0.5
GOAL_RSS_MB = 120.0
GOAL_NAIVE_RATIO = 1.5


@dataclass(frozen=True)
class Load:
    requests: int
    duration_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    wrapped: int

    @property
    def rate(self) -> float:
        return self.requests / self.duration_s


@dataclass(frozen=True)
class CpuShare:
    """Cores used during the measured run, by who used them."""

    workers: float
    # Each worker's share: one worker holding most of the keep-alive connections leaves
    # the other idle and caps a run at about one core.
    per_worker: tuple[float, ...]
    postgres: float
    redis: float
    wrk: float
    machine: float
    stolen: float

    @property
    def other(self) -> float:
        """Whatever else ran meanwhile (on a shared machine: other people's work)."""
        return max(0.0, self.machine - self.workers - self.postgres - self.redis - self.wrk)


@dataclass(frozen=True)
class Storage:
    """Where a storing target keeps each message: its database and the table counted."""

    url: str
    name: str
    table: str


@dataclass(frozen=True)
class TargetResult:
    name: str
    load: Load
    cpu: CpuShare
    worker_cpu_ms_per_msg: float
    stored: int | None


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=20, help="measured seconds per target")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up seconds per target")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--residents", type=int, default=2000, help="distinct openids")
    parser.add_argument(
        "--max-rate",
        type=int,
        default=9000,
        help="msgs/s the pre-signed pools are sized for (each message is sent once)",
    )
    parser.add_argument(
        "--only",
        choices=("app", "floor", STORED, NAIVE),
        help="drive one target (all are still started)",
    )
    parser.add_argument(
        "--naive",
        type=Path,
        help="the naive storing peer's app file (default: ../shared/bench/naive_app.py "
        "from the repository's main checkout)",
    )
    return parser.parse_args()


def repository_folder() -> Path:
    """The repository's main checkout: a git worktree (bench/compare.py's baseline, an
    engineer's own) lives elsewhere, and the peer sits beside the repository itself."""
    common = subprocess.run(
        ["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if common.returncode != 0:
        return ROOT
    return Path(common.stdout.strip()).parent


# Database ------------------------------------------------------------------------------


def count_rows(database_url: str, table: str) -> int:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        count = int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    engine.dispose()
    return count


def analyze(database_url: str) -> None:
    """Give the planner the statistics a running database has. Autovacuum analyzes a
    table once enough of it changed, looking at most once a minute, and the warm-up has
    just enrolled every resident: before that look, PostgreSQL plans the resident table
    as never analyzed, nearly empty, and reads all of it where an index finds the rows
    (the group commit's senders, bench/README.md)."""
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    engine.dispose()


# Processes -----------------------------------------------------------------------------


@dataclass
class Server:
    process: Process
    port: int

    @property
    def name(self) -> str:
        return self.process.name

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/wechat"

    def worker_pids(self) -> list[int]:
        master = self.process.popen.pid
        return [pid for pid, process in processes().items() if process.ppid == master]

    def log_tail(self) -> str:
        return self.process.log_tail()


@contextmanager
def serving(
    name: str, command: list[str], port: int, env: dict[str, str], workdir: Path
) -> Iterator[Server]:
    with running(name, command, workdir, env, STOP_TIMEOUT_S) as process:
        yield Server(process, port)


def wait_until_ready(server: Server, payloads: WeChatPayloads, workers: int) -> None:
    """Until the server answers a signed message and all its workers have booted."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.popen.poll() is not None:
            raise BenchError(f"{server.name} exited at start: {server.log_tail()}")
        delivery = payloads.sign(payloads.text("o-bench-ready", "帮助"))
        request = urllib.request.Request(
            f"{server.url}?{urlencode(delivery.query)}",
            data=delivery.body,
            method="POST",
            # As WeChat and bench/webhook.lua send it; the naive peer reads only such a body.
            headers={"Content-Type": "text/xml"},
        )
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                answered = response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            # Not listening yet, or (on a loaded machine) its first answer is slow.
            answered = False
        if answered and len(server.worker_pids()) == workers:
            return
        time.sleep(0.2)
    raise BenchError(f"{server.name} not ready in {READY_TIMEOUT_S:.0f} s: {server.log_tail()}")


def create_naive_table(naive_app: Path, env: dict[str, str]) -> None:
    """Import the naive peer once, which creates its table, before gunicorn starts its
    workers: each worker imports it too, and two creating the table at the same moment
    can collide in PostgreSQL's catalog, so that one fails to boot."""
    subprocess.run(
        [sys.executable, "-c", f"import {naive_app.stem}"],
        cwd=naive_app.parent,
        env=env,
        check=True,
        capture_output=True,
    )


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise BenchError(f"no VmRSS for process {pid}")


# Load ----------------------------------------------------------------------------------


def write_deliveries(
    path: Path, payloads: WeChatPayloads, openids: list[str], count: int, greet_first: bool
) -> None:
    """``count`` signed, distinct text messages; with ``greet_first`` every openid leads once."""
    rng = random.Random(count)
    with path.open("w") as out:
        for index in range(count):
            greeting = greet_first and index < len(openids)
            openid = openids[index] if greeting else rng.choice(openids)
            delivery = payloads.sign(payloads.text(openid, TEXTS[index % len(TEXTS)]))
            out.write(f"/wechat?{urlencode(delivery.query)}\t{delivery.body.decode()}\n")


def warm_up(
    server: Server,
    payloads: WeChatPayloads,
    openids: list[str],
    args: argparse.Namespace,
    workdir: Path,
) -> None:
    """``--warmup`` seconds of messages, each resident's greeting first, again until every
    resident has greeted: a resident's first message enrols them and sets their language,
    work done once per resident, which a measured run of steady traffic must not include.
    On a slow machine 5 s did not reach all 2,000 residents."""
    warmup_file = workdir / f"{server.name}-warmup.txt"
    ungreeted = openids
    while ungreeted:
        write_deliveries(warmup_file, payloads, ungreeted, args.warmup * args.max_rate, True)
        ungreeted = ungreeted[run_wrk(server.url, warmup_file, args.warmup, args).requests :]


def run_wrk(url: str, requests_file: Path, seconds: int, args: argparse.Namespace) -> Load:
    command = [
        "wrk",
        f"--threads={args.threads}",
        f"--connections={args.connections}",
        f"--duration={seconds}s",
        "--timeout=5s",
        f"--script={LUA_SCRIPT}",
        url,
        "--",
        str(requests_file),
        str(args.threads),
    ]
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in finished.stdout.splitlines() if line.startswith("BENCH ")]
    if finished.returncode != 0 or not lines:
        raise BenchError(f"wrk failed: {(finished.stderr or finished.stdout).strip()[:300]}")
    raw = json.loads(lines[-1].removeprefix("BENCH "))
    errors = sum(raw[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors"))
    return Load(
        requests=raw["requests"],
        duration_s=raw["duration_us"] / 1e6,
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        errors=errors + raw["timeouts"],
        wrapped=raw["wrapped"],
    )


def drive(
    server: Server,
    payloads: WeChatPayloads,
    openids: list[str],
    args: argparse.Namespace,
    workdir: Path,
    storage: Storage | None,
) -> TargetResult:
    """Warm up, then measure; the pools are signed just before each wrk run (fresh stamps)."""
    warm_up(server, payloads, openids, args, workdir)
    if storage:
        analyze(storage.url)
    measure_file = workdir / f"{server.name}-measure.txt"
    write_deliveries(measure_file, payloads, openids, args.duration * args.max_rate, False)

    workers = server.worker_pids()
    stored_before = count_rows(storage.url, storage.table) if storage else 0
    meter = CpuMeter(storage.name if storage else DATABASE_NAME)
    meter.start()
    wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = run_wrk(server.url, measure_file, args.duration, args)
    wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    meter.stop()
    stored = count_rows(storage.url, storage.table) - stored_before if storage else None

    worker_s = meter.seconds_of_pids(workers)
    wrk_s = (wrk_after.ru_utime + wrk_after.ru_stime) - (wrk_before.ru_utime + wrk_before.ru_stime)
    cpu = CpuShare(
        workers=worker_s / load.duration_s,
        per_worker=tuple(meter.seconds_of_pids([pid]) / load.duration_s for pid in workers),
        postgres=meter.seconds_of_name(BENCH_BACKEND) / load.duration_s,
        redis=meter.seconds_of_name("redis-server") / load.duration_s,
        wrk=wrk_s / load.duration_s,
        machine=meter.machine_busy_share() * (os.cpu_count() or 1),
        stolen=meter.machine_steal_share() * (os.cpu_count() or 1),
    )
    return TargetResult(
        name=server.name,
        load=load,
        cpu=cpu,
        worker_cpu_ms_per_msg=worker_s * 1000 / max(load.requests, 1),
        stored=stored,
    )


# Report --------------------------------------------------------------------------------


def report(
    results: list[TargetResult],
    rss: dict[str, list[float]],
    args: argparse.Namespace,
    speed_ms: tuple[float, float],
) -> None:
    options = server_options("127.0.0.1", 0, args.workers)
    worker_class = options.get("worker_class", "sync")
    threads = f", {options['threads']} threads" if "threads" in options else ""
    print(
        f"webhook benchmark, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores: gunicorn "
        f"{args.workers} workers ({worker_class}{threads}), wrk {args.threads} thread(s) "
        f"{args.connections} connections, {args.duration} s per target after "
        f"{args.warmup} s warm-up, {args.residents} residents"
    )
    print(
        f"machine speed: a fixed Python loop took {speed_ms[0]:.0f} ms before the runs and "
        f"{speed_ms[1]:.0f} ms after (lower is faster)"
    )
    print()
    print(
        f"{'target':<11}{'msgs/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}"
        f"{'worker RSS MB':>16}{'worker CPU ms/msg':>19}"
    )
    for result in results:
        load = result.load
        print(
            f"{result.name:<11}{load.rate:>9.0f}{load.p50_ms:>9.1f}{load.p99_ms:>9.1f}"
            f"{load.max_ms:>9.1f}{load.errors:>8}"
            f"{' / '.join(f'{v:.0f}' for v in rss[result.name]):>16}"
            f"{result.worker_cpu_ms_per_msg:>19.2f}"
        )
    print()
    for result in results:
        cpu = result.cpu
        print(
            f"cores busy while driving {result.name}: {cpu.machine:.2f} of {os.cpu_count()} "
            f"(workers {cpu.workers:.2f} = {' + '.join(f'{w:.2f}' for w in cpu.per_worker)}, "
            f"its postgres backends {cpu.postgres:.2f}, "
            f"redis {cpu.redis:.2f}, "
            f"wrk {cpu.wrk:.2f}, other processes {cpu.other:.2f}); "
            f"taken by the host for other machines: {cpu.stolen:.2f}"
        )
        if result.stored is not None:
            in_flight = result.stored - result.load.requests
            print(
                f"{result.name}: {result.stored} inbound rows stored for "
                f"{result.load.requests} answered messages"
                + ("" if 0 <= in_flight <= args.connections else " (MISMATCH)")
                + " (wrk does not count answers still in flight when it stops)"
            )
        if result.load.wrapped:
            print(
                f"WARNING: {result.name} ran out of pre-signed messages and re-sent some; "
                f"rerun with a larger --max-rate"
            )
    by_name = {result.name: result for result in results}
    print_ratios(by_name)
    if "app" not in by_name:
        return
    app = by_name["app"].load
    print()
    rows = [
        (f"≥ {GOAL_RATE:,.0f} msgs/s", f"{app.rate:,.0f}", app.rate >= GOAL_RATE),
        (f"p99 ≤ {GOAL_P99_MS:.0f} ms", f"{app.p99_ms:.1f} ms", app.p99_ms <= GOAL_P99_MS),
        (
            f"worker RSS ≤ {GOAL_RSS_MB:.0f} MB",
            f"{max(rss['app']):.0f} MB",
            max(rss["app"]) <= GOAL_RSS_MB,
        ),
    ]
    if "floor" in by_name:
        ratio = app.rate / by_name["floor"].load.rate
        rows.insert(2, (f"≥ {GOAL_RATIO:.0%} of floor", f"{ratio:.0%}", ratio >= GOAL_RATIO))
    if NAIVE in by_name:
        ratio = app.rate / by_name[NAIVE].load.rate
        met = ratio >= GOAL_NAIVE_RATIO
        rows.insert(2, (f"≥ {GOAL_NAIVE_RATIO}x naive", f"{ratio:.2f}x", met))
    print(f"{'goal':<22}{'measured':>12}  result")
    for goal, measured, met in rows:
        print(f"{goal:<22}{measured:>12}  {'met' if met else 'MISSED'}")


def print_ratios(by_name: dict[str, TargetResult]) -> None:
    """Each target's throughput against those that do less: app / floor is the goal;
    must-store / floor is about as far as code that stores each delivery durably before
    answering it could get, and app / must-store how much of that the app reaches."""
    print()
    pairs = (("app", "floor"), (STORED, "floor"), ("app", STORED), ("app", NAIVE))
    for slower, faster in pairs:
        if slower in by_name and faster in by_name:
            ratio = by_name[slower].load.rate / by_name[faster].load.rate
            print(f"{slower} / {faster} throughput: {ratio:.2f}")


def bench(args: argparse.Namespace) -> None:
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed (Debian/Ubuntu: apt-get install -y wrk)")
    naive_app = (args.naive or repository_folder() / NAIVE_BESIDE_REPOSITORY).resolve()
    if not naive_app.is_file():
        raise BenchError(f"no naive peer at {naive_app} (--naive PATH)")
    speed_before = python_speed_ms()
    with (
        dedicated_database(DATABASE_NAME) as database_url,
        dedicated_database(NAIVE_DATABASE_NAME) as naive_url,
    ):
        upgrade(database_url)
        payloads = WeChatPayloads(token=TOKEN, app_id=APP_ID, encoding_aes_key=AES_KEY)
        naive_payloads = WeChatPayloads(token=NAIVE_TOKEN, app_id=APP_ID, encoding_aes_key=AES_KEY)
        openids = [f"o-bench-{n:05d}" for n in range(args.residents)]
        with tempfile.TemporaryDirectory(prefix="aixiang-bench-") as tmp:
            workdir = Path(tmp)
            env = server_env(
                workdir,
                AIXIANG_DATABASE_URL=database_url,
                AIXIANG_REDIS_URL=redis_url(REDIS_DATABASE),
                AIXIANG_WECHAT_TOKEN=TOKEN,
                AIXIANG_WECHAT_APP_ID=APP_ID,
                AIXIANG_WECHAT_APP_SECRET=APP_SECRET,
                AIXIANG_WECHAT_ENCODING_AES_KEY=AES_KEY,
                AIXIANG_BOT_SPOOL_DIR=str(workdir / "spool"),
            )
            ports = {name: free_port() for name in ("app", "floor", STORED, NAIVE)}
            app_command = [sys.executable, "-m", "bot", "serve", "--port", str(ports["app"])]
            floor_command = [sys.executable, "bench/floor_app.py", "--port", str(ports["floor"])]
            stored_command = [
                sys.executable, "bench/floor_app.py", "--port", str(ports[STORED]), "--must-store"
            ]  # fmt: skip
            naive_command = [
                sys.executable, "-m", "gunicorn", "--chdir", str(naive_app.parent),
                "-w", str(args.workers), "--threads", str(NAIVE_THREADS),
                "-b", f"127.0.0.1:{ports[NAIVE]}", f"{naive_app.stem}:app",
            ]  # fmt: skip
            naive_env = {**env, "NAIVE_DB": naive_url}
            create_naive_table(naive_app, naive_env)
            workers = ["--workers", str(args.workers)]
            with (
                serving("app", app_command + workers, ports["app"], env, workdir) as app,
                serving("floor", floor_command + workers, ports["floor"], env, workdir) as floor,
                serving(STORED, stored_command + workers, ports[STORED], env, workdir) as stored,
                serving(NAIVE, naive_command, ports[NAIVE], naive_env, workdir) as naive,
            ):
                servers = (floor, stored, naive, app)
                app_storage = Storage(database_url, DATABASE_NAME, "inbound_message")
                storing = {
                    STORED: app_storage,
                    "app": app_storage,
                    NAIVE: Storage(naive_url, NAIVE_DATABASE_NAME, NAIVE_TABLE),
                }
                signing = {NAIVE: naive_payloads}
                for server in servers:
                    wait_until_ready(server, signing.get(server.name, payloads), args.workers)
                results = [
                    drive(
                        server,
                        signing.get(server.name, payloads),
                        openids,
                        args,
                        workdir,
                        storing.get(server.name),
                    )
                    for server in servers
                    if args.only in (None, server.name)
                ]
                rss = {
                    server.name: [rss_mb(pid) for pid in server.worker_pids()] for server in servers
                }
        report(results, rss, args, (speed_before, python_speed_ms()))


def main() -> None:
    try:
        bench(parse_args())
    except BenchError as exc:
        sys.exit(f"bench/webhook.py: {exc}")


if __name__ == "__main__":
    main()
