"""Signed-in staff clicking through the console of the real app.

``aixiang serve`` (gunicorn, the project's own options) runs on a free port against the
bench's database and Redis. A staff account is created through models/accounts (audited,
as any account). Each client is a ``requests.Session`` that signs in as a person does
(the CSRF token from the sign-in form, then the form posted) and then opens the pages of
:func:`pages` in a shuffled order of its own, pausing ``--think`` seconds (0.5x to 1.5x
at random) before the first click and between clicks, until ``--duration`` is over
(``signed_in`` says when a click is sent twice). The app has no timing header, so a
page's time is what its client sees on loopback: from sending the request to the
last byte of the page, queueing in the server included. Each console worker's RSS is
read from /proc at the end (VmRSS, and VmHWM for its peak).
"""

from __future__ import annotations

import argparse
import random
import re
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from urllib3.util.retry import Retry

from bench.console_data import NOW
from bench.console_queries import Samples
from bench.events import percentile
from bench.support import (
    APP_ID,
    APP_SECRET,
    BENCH_BACKEND,
    ROOT,
    TOKEN,
    BenchError,
    CpuMeter,
    Process,
    free_port,
    processes,
    running,
    server_env,
)
from models.accounts.operations import create_account, set_password
from models.accounts.queries import find_account
from models.accounts.roles import Role
from models.audit import Actor
from models.db import make_session_factory

LOGIN = "bench-staff"
READY_TIMEOUT_S = 60.0
REQUEST_TIMEOUT_S = 30.0
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


# The needs queue as staff narrow and order it: each filter alone, three together, each
# sort, and text searched for (3 characters and more use the trigram index, 2 do not).
QUEUE_QUERIES = (
    "",
    "?status=submitted",
    "?category=jobs",
    "?partner=7",
    "?partner=none",
    "?age=30",
    "?over=1",
    "?status=in_progress&category=infrastructure&partner=7",
    "?sort=newest",
    "?sort=demand",
    "?status=&sort=newest&page=100",
    "?q=村口的路灯",
    "?q=卫生室",
    "?q=路灯",
)
# How many needs' and residents' pages are among the pages clicked.
RECORD_PAGES = 5


def pages(url: str) -> list[str]:
    """The console paths staff click through, with the refs and ids of real rows."""
    engine = create_engine(url)
    try:
        samples = Samples.pick(engine)
    finally:
        engine.dispose()
    return [
        "/console/",
        *(f"/console/needs/{query}" for query in QUEUE_QUERIES),
        *(f"/console/needs/{samples.need_ref(turn)}" for turn in range(RECORD_PAGES)),
        *(f"/console/residents/{samples.resident_id(turn)}" for turn in range(RECORD_PAGES)),
        "/console/residents/?q=王秀",
    ]


def staff_password(url: str) -> str:
    """A fresh password for the bench's staff account, created if it is not there yet."""
    password = secrets.token_urlsafe(16)
    engine = create_engine(url)
    actor = Actor.os_user("bench/console.py")
    try:
        with make_session_factory(engine)() as db:
            account = find_account(db, LOGIN)
            if account is None:
                create_account(db, actor, login=LOGIN, role=Role.STAFF, password=password, now=NOW)
            else:
                set_password(db, actor, account, password, NOW)
            db.commit()
    finally:
        engine.dispose()
    return password


@dataclass
class Clicks:
    """What the clients saw: milliseconds per page, and errors, shared by their threads."""

    times_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, page: str, elapsed_ms: float, error: str | None) -> None:
        with self.lock:
            self.times_ms[page].append(elapsed_ms)
            if error is not None:
                self.errors[page].append(error)


def signed_in(base: str, password: str) -> requests.Session:
    """A session signed in through the sign-in form, as a browser does. Like a browser,
    it sends a GET once more when the server closed the kept-alive connection as the
    request went out (gunicorn closes one idle for 2 s; on a busy machine a client's
    pause can outlast that); the second try's time counts in the click's."""
    client = requests.Session()
    once_more = Retry(total=1, connect=0, read=1, status=0, other=0, allowed_methods={"GET"})
    client.mount("http://", HTTPAdapter(max_retries=once_more))
    form = client.get(f"{base}/console/sign-in", timeout=REQUEST_TIMEOUT_S)
    token = CSRF_FIELD.search(form.text)
    if token is None:
        raise BenchError(f"no CSRF token on the sign-in page (HTTP {form.status_code})")
    answer = client.post(
        f"{base}/console/sign-in",
        data={"csrf_token": token.group(1), "login": LOGIN, "password": password, "next": ""},
        timeout=REQUEST_TIMEOUT_S,
    )
    if answer.status_code != 200 or not answer.url.endswith("/console/"):
        raise BenchError(f"sign-in refused: HTTP {answer.status_code} at {answer.url}")
    return client


def click(
    client: requests.Session,
    base: str,
    paths: list[str],
    until: float,
    think_s: float,
    clicks: Clicks,
    seed: int,
) -> None:
    """Open ``paths`` in a shuffled order, again and again, until ``until``. The first
    click waits a pause of its own too, as staff who sign in at different moments do:
    20 clients opening a page at the same instant is a burst no office makes, and it
    would time the burst (their first clicks, queued behind each other) rather than
    the clicking."""
    rng = random.Random(seed)
    time.sleep(think_s * rng.uniform(0, 1.5))
    while time.monotonic() < until:
        for path in rng.sample(paths, len(paths)):
            if time.monotonic() >= until:
                return
            started = time.perf_counter()
            error = None
            try:
                answer = client.get(base + path, timeout=REQUEST_TIMEOUT_S)
                if answer.status_code != 200 or "/sign-in" in answer.url:
                    error = f"HTTP {answer.status_code} at {answer.url}"
            except requests.RequestException as exc:
                error = f"{type(exc).__name__}: {exc}"
            clicks.add(path, (time.perf_counter() - started) * 1000, error)
            time.sleep(think_s * rng.uniform(0.5, 1.5))


@contextmanager
def serving(url: str, redis: str, workers: int) -> Iterator[tuple[str, Process]]:
    """The app under gunicorn on a free port, ready; its base URL and its process."""
    with tempfile.TemporaryDirectory(prefix="aixiang-console-bench-") as folder:
        workdir = Path(folder)
        env = server_env(
            workdir,
            AIXIANG_DATABASE_URL=url,
            AIXIANG_REDIS_URL=redis,
            AIXIANG_WECHAT_TOKEN=TOKEN,
            AIXIANG_WECHAT_APP_ID=APP_ID,
            AIXIANG_WECHAT_APP_SECRET=APP_SECRET,
            AIXIANG_BOT_SPOOL_DIR=str(workdir / "spool"),
            PYTHONPATH=str(ROOT),
        )
        port = free_port()
        command = [sys.executable, "-m", "bot", "serve", "--port", str(port), "--workers"]
        with running("serve", [*command, str(workers)], workdir, env) as process:
            base = f"http://127.0.0.1:{port}"
            wait_until_ready(base, process, workers)
            yield base, process


def wait_until_ready(base: str, process: Process, workers: int) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise BenchError(f"the app exited at start: {process.log_tail()}")
        try:
            ready = requests.get(f"{base}/console/sign-in", timeout=2).status_code == 200
        except requests.RequestException:
            ready = False
        if ready and len(worker_pids(process)) == workers:
            return
        time.sleep(0.2)
    raise BenchError(f"the app did not answer in {READY_TIMEOUT_S:.0f} s: {process.log_tail()}")


def worker_pids(process: Process) -> list[int]:
    master = process.popen.pid
    return [pid for pid, found in processes().items() if found.ppid == master]


def memory_mb(pid: int) -> tuple[float, float]:
    """A process's resident memory now and at its peak (VmRSS, VmHWM)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def click_through(url: str, redis: str, args: argparse.Namespace) -> Clicks:
    """Run the app, sign the clients in, let them click for ``args.duration`` s; print
    each page's p50/p99 and errors, and the workers' memory."""
    paths = pages(url)
    password = staff_password(url)
    with serving(url, redis, args.workers) as (base, process):
        clients = [signed_in(base, password) for _ in range(args.clients)]
        clicks = Clicks()
        until = time.monotonic() + args.duration
        threads = [
            threading.Thread(
                target=click, args=(client, base, paths, until, args.think, clicks, seed)
            )
            for seed, client in enumerate(clients)
        ]
        meter = CpuMeter(make_url(url).database)
        meter.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        meter.stop()
        workers = worker_pids(process)
        memory = [memory_mb(pid) for pid in workers]
    report(clicks, args, memory)
    report_cpu(meter, workers, sum(len(times) for times in clicks.times_ms.values()))
    return clicks


def report_cpu(meter: CpuMeter, workers: list[int], clicks: int) -> None:
    """Where the cores went while the clients clicked, and the CPU a click costs: what
    says whether a quiet machine would keep up, when a shared one did not. PostgreSQL's
    parallel workers exit with their query, so their CPU is not in its figure."""
    if not clicks:
        return
    app = meter.seconds_of_pids(workers)
    database = meter.seconds_of_name(BENCH_BACKEND)
    print(
        f"  CPU per click: console workers {app / clicks * 1000:.1f} ms, PostgreSQL "
        f"{database / clicks * 1000:.1f} ms; the machine was {meter.machine_busy_share():.0%} "
        f"busy (steal {meter.machine_steal_share():.0%}), the console workers and "
        f"PostgreSQL took {(app + database) / meter.machine_seconds():.0%} of that"
    )


def report(clicks: Clicks, args: argparse.Namespace, memory: list[tuple[float, float]]) -> None:
    every = [ms for times in clicks.times_ms.values() for ms in times]
    errors = sum(len(found) for found in clicks.errors.values())
    print(
        f"\n{args.clients} signed-in staff clicking for {args.duration:.0f} s "
        f"(think {args.think} s), {args.workers} workers; client-side times on loopback (ms):"
    )
    for path, times in sorted(clicks.times_ms.items()):
        print(
            f"  {path:<58} {len(times):>5} clicks  p50 {statistics.median(times):7.1f}  "
            f"p99 {percentile(times, 0.99):7.1f}  errors {len(clicks.errors.get(path, []))}"
        )
        for error, count in Counter(clicks.errors.get(path, [])).most_common(3):
            print(f"      {count} x {error[:150]}")
    if every:
        print(
            f"  all pages: {len(every)} clicks ({len(every) / args.duration:.1f}/s), "
            f"p50 {statistics.median(every):.1f}, p99 {percentile(every, 0.99):.1f}, "
            f"errors {errors} (goal: none, p99 < 300: "
            f"{'met' if errors == 0 and percentile(every, 0.99) < 300 else 'MISSED'})"
        )
    for rss, peak in memory:
        print(
            f"  console worker RSS {rss:.0f} MB, peak {peak:.0f} MB (goal <= 150: "
            f"{'met' if peak <= 150 else 'MISSED'})"
        )
