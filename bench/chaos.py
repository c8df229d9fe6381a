"""Chaos: the real processes under load while PostgreSQL, Redis, a process or WeChat fails.

Runs what production runs, on servers of its own so that the machine's shared ones are
never touched: a throwaway PostgreSQL cluster (initdb into a temporary folder, on a free
port) and a Redis on a free port with no persistence; `aixiang serve` (gunicorn, 2
webhook workers), 2 `aixiang worker` and 2 `aixiang scheduler` processes; the project's
fake WeChat API (bot/wechat/fake_api.py, in this process) as WeChat.

Each phase drives signed text messages at a steady rate, each from a resident of its own,
as WeChat does: a delivery that fails or is not answered within 5 s is sent again, byte
for byte, up to 3 times, 5 s apart. Beside them it queues pushes (outbox rows whose text
names the row) at a steady rate. One fault per phase, ``--hold`` seconds long where it
lasts: PostgreSQL stopped; Redis stopped; Redis's client connections killed; kill -9 of
a webhook worker, of an outbox worker, of the scheduler leader; SIGSTOP of the leader
past its lease, then SIGCONT; WeChat answering -1, 45009, or too slowly. A killed
process is started again, as a supervisor would.

Per phase it prints: messages sent, answered, lost (answered, yet no stored inbound row
at the end), handled twice (two stored rows for one MsgId, or a delivery answered with a
real reply that also got a deferred one), pushes queued and delivered, pushes lost (final
without reaching WeChat) and doubled (reaching the fake more than once), and recovery: the
time from the service's return (the fault's end; the kill itself for a kill) to the first
real reply the webhook gave and to the first push WeChat took.

    .venv/bin/python bench/chaos.py [--quick] [--rate 20] [--pushes 300] [--hold 20]
        [--only PHASE ...]

Needs PostgreSQL's server binaries (/usr/lib/postgresql/*/bin) and redis-server. Prints
figures and asserts nothing; everything it started is stopped and deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import redis
import requests
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import (  # noqa: E402
    APP_ID,
    APP_SECRET,
    TOKEN,
    BenchError,
    create_database,
    free_port,
    processes,
    server_env,
)
from bot.outage import WECHAT_WAIT_S  # noqa: E402
from bot.wechat.fake_api.server import FakeWeChatServer  # noqa: E402
from bot.wechat.payloads import WeChatPayloads  # noqa: E402
from models.migrate import upgrade  # noqa: E402
from scheduler.leader import LEADER_KEY, LEASE_MS  # noqa: E402
from tests.own_postgres import OwnPostgres, own_postgres, postgres_bin  # noqa: E402

# WeChat sends a delivery that failed again, byte for byte, this many times, this far apart.
RESENDS = 3
RESEND_EVERY_S = 5.0
READY_TIMEOUT_S = 60.0
# How long a phase may take to settle after its load ends: re-sends, the spool's drain,
# pushes retried with backoff.
SETTLE_TIMEOUT_S = 120.0
# The outbox lease: a killed worker's rows go out again after it (production: 120 s).
LEASE_S = 15
PUSH_TEXT = "chaos push #{}"
PUSH_NUMBER = re.compile(r"chaos push #(\d+)")
DEFERRED_ACK = ("收到了，稍后回复您", "Got it, we will reply shortly")
CUSTOM_SEND = "message/custom/send"
PUSH_KINDS = ("need_status", "deferred_reply")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short phases, light load")
    parser.add_argument("--rate", type=float, help="messages a second (default 20; quick 5)")
    parser.add_argument("--pushes", type=int, help="pushes queued per phase (300; quick 40)")
    parser.add_argument("--hold", type=float, help="seconds a fault lasts (20; quick 5)")
    parser.add_argument("--only", nargs="+", choices=[p.name for p in PHASES], help="phases")
    args = parser.parse_args()
    args.rate = args.rate or (5.0 if args.quick else 20.0)
    args.pushes = args.pushes if args.pushes is not None else (40 if args.quick else 300)
    args.hold = args.hold or (5.0 if args.quick else 20.0)
    if args.rate <= 0 or args.pushes < 0 or args.hold <= 0:
        parser.error("--rate and --hold must be positive, --pushes at least 0")
    return args


# Servers of the bench's own --------------------------------------------------------------


class OwnRedis:
    """redis-server on a free port, without persistence, as production runs it."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self._folder = folder
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self._folder)]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise BenchError("redis-server did not start") from None
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait()
            self._process = None

    def kill_clients(self) -> int:
        client = redis.Redis.from_url(self.url)
        try:
            return int(client.execute_command("CLIENT", "KILL", "TYPE", "normal"))
        finally:
            client.close()


@dataclass
class Fleet:
    """The project's processes, each started again as a supervisor would after a kill."""

    env: dict[str, str]
    folder: Path
    serve_port: int
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)

    def commands(self) -> dict[str, list[str]]:
        bot = [sys.executable, "-m", "bot"]
        return {
            "serve": [*bot, "serve", "--port", str(self.serve_port), "--workers", "2"],
            "worker-1": [*bot, "worker"],
            "worker-2": [*bot, "worker"],
            "scheduler-1": [*bot, "scheduler"],
            "scheduler-2": [*bot, "scheduler"],
        }

    def start(self, name: str) -> None:
        log = self.folder / f"{name}.log"
        self.logs[name] = log
        with log.open("ab") as output:
            self.running[name] = subprocess.Popen(
                self.commands()[name], cwd=ROOT, env=self.env, stdout=output, stderr=output
            )

    def start_all(self) -> None:
        for name in self.commands():
            self.start(name)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while len(self.webhook_workers()) < 2 or not self.webhook_answers():
            for name, process in self.running.items():
                if process.poll() is not None:
                    raise BenchError(f"{name} exited at start: {self.tail(name)}")
            if time.monotonic() > deadline:
                raise BenchError(f"serve not ready in {READY_TIMEOUT_S:.0f} s")
            time.sleep(0.2)

    def webhook_answers(self) -> bool:
        try:
            requests.get(f"http://127.0.0.1:{self.serve_port}/healthz", timeout=2)
        except requests.RequestException:
            return False
        return True

    def webhook_workers(self) -> list[int]:
        arbiter = self.running["serve"].pid
        return sorted(pid for pid, found in processes().items() if found.ppid == arbiter)

    def kill9(self, name: str) -> None:
        """Kill ``name`` at once and start it again."""
        process = self.running[name]
        process.kill()
        process.wait()
        self.start(name)

    def scheduler_of(self, identity: str) -> str:
        """The scheduler whose log says it took the lead as ``identity``."""
        for name in ("scheduler-1", "scheduler-2"):
            if f"scheduler {identity} is now the leader" in self.logs[name].read_text():
                return name
        raise BenchError(f"no scheduler's log names the leader {identity}")

    def tail(self, name: str) -> str:
        return " | ".join(self.logs[name].read_text(errors="replace").splitlines()[-3:])

    def stop_all(self) -> None:
        for process in self.running.values():
            with suppress(ProcessLookupError):
                process.send_signal(signal.SIGCONT)
            process.terminate()
        for process in self.running.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# The load: WeChat's deliveries and the pushes -------------------------------------------


@dataclass
class Sent:
    """One message and what became of each copy WeChat sent of it."""

    openid: str
    msg_id: int
    # (started, answered or failed, outcome): "reply", "ack" or an error.
    copies: list[tuple[float, float, str]] = field(default_factory=list)

    @property
    def answered(self) -> bool:
        return any(outcome in ("reply", "ack") for _, _, outcome in self.copies)

    @property
    def replied(self) -> bool:
        return any(outcome == "reply" for _, _, outcome in self.copies)


class WeChatLoad:
    """Messages at a steady rate, each re-sent as WeChat re-sends a failed delivery."""

    def __init__(self, url: str, phase: str, rate: float, first_msg_id: int) -> None:
        self._url = url
        self._phase = phase
        self._rate = rate
        self._next_msg_id = first_msg_id
        self._payloads = WeChatPayloads(token=TOKEN, app_id=APP_ID)
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=256, thread_name_prefix="wechat")
        self._session = requests.Session()
        self._session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=256))
        self.sent: list[Sent] = []
        self._thread = threading.Thread(target=self._drive, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Send no new message; wait for the re-sends of those sent."""
        self._stop.set()
        self._thread.join()
        self._pool.shutdown(wait=True)

    def _drive(self) -> None:
        started = time.monotonic()
        while not self._stop.is_set():
            number = len(self.sent)
            message = Sent(f"o-chaos-{self._phase}-{number}", self._next_msg_id + number)
            self.sent.append(message)
            self._pool.submit(self._deliver, message)
            self._stop.wait(max(0.0, started + (number + 1) / self._rate - time.monotonic()))

    def _deliver(self, message: Sent) -> None:
        xml = self._payloads.text(message.openid, "帮助", msg_id=message.msg_id)
        delivery = self._payloads.sign(xml)
        for copy in range(RESENDS + 1):
            started = time.time()
            outcome = self._post(delivery.query, delivery.body)
            message.copies.append((started, time.time(), outcome))
            if outcome in ("reply", "ack") or copy == RESENDS:
                return
            time.sleep(max(0.0, started + RESEND_EVERY_S - time.time()))

    def _post(self, query: dict[str, str], body: bytes) -> str:
        try:
            response = self._session.post(self._url, params=query, data=body, timeout=WECHAT_WAIT_S)
        except requests.RequestException as exc:
            return type(exc).__name__
        if response.status_code != 200:
            return f"HTTP {response.status_code}"
        try:
            content = self._payloads.read_reply(response.content)["Content"]
        except Exception:
            return "unreadable"
        return "ack" if content in DEFERRED_ACK else "reply"


class PushFeed:
    """Outbox rows queued at a steady rate over the phase, each text naming its row."""

    def __init__(self, engine: Engine, first: int, count: int, over_s: float) -> None:
        self._engine = engine
        self.numbers = range(first, first + count)
        self._over_s = over_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._feed, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _feed(self) -> None:
        """Ten rows at a time over the phase; a batch PostgreSQL refuses (the outage) is
        tried again at the next step, and what is left when the phase stops is queued
        then, as soon as PostgreSQL takes it."""
        pending = list(self.numbers)
        pause = self._over_s / max(1, len(pending) / 10)
        while pending:
            batch = pending if self._stop.is_set() else pending[:10]
            with suppress(SQLAlchemyError):
                queue_pushes(self._engine, batch)
                del pending[: len(batch)]
            if self._stop.is_set():
                time.sleep(0.5)
            else:
                self._stop.wait(pause)


def queue_pushes(engine: Engine, numbers: list[int]) -> None:
    """``need_status`` pushes to residents who wrote within the hour, one resident each."""
    with engine.begin() as connection:
        connection.execute(
            text(
                """
                INSERT INTO resident (openid, subscribed, subscribed_at, last_interaction_at,
                                      last_interaction_kind, broadcast_opt_out, created_at)
                SELECT 'o-chaos-r-' || g, true, now(), now(), 'message', false, now()
                FROM unnest(CAST(:numbers AS integer[])) AS g
                """
            ),
            {"numbers": numbers},
        )
        connection.execute(
            text(
                """
                INSERT INTO outbox (resident_id, recipient_openid, kind, payload,
                                    idempotency_key, status, attempts, next_attempt_at,
                                    created_at)
                SELECT r.id, r.openid, 'need_status',
                       json_build_object(
                           'text', json_build_object('zh', 'chaos push #' || g,
                                                     'en', 'chaos push #' || g),
                           'fields', json_build_object('ref', 'N' || g,
                                                       'status', 'acknowledged')),
                       'need_status:chaos:' || g, 'pending', 0, now(), now()
                FROM unnest(CAST(:numbers AS integer[])) AS g
                JOIN resident AS r ON r.openid = 'o-chaos-r-' || g
                """
            ),
            {"numbers": numbers},
        )


# Faults ---------------------------------------------------------------------------------


@dataclass
class Rig:
    """Everything a phase acts on."""

    args: argparse.Namespace
    postgres: OwnPostgres
    redis: OwnRedis
    fleet: Fleet
    fake: FakeWeChatServer
    engine: Engine

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.fleet.serve_port}/wechat"

    def leader(self) -> str | None:
        """The identity holding the scheduler's lead, None while nobody does."""
        client = redis.Redis.from_url(self.redis.url, decode_responses=True)
        try:
            value = client.get(LEADER_KEY)
        except redis.RedisError:
            return None
        finally:
            client.close()
        return None if value is None else str(value)

    def wait_for_leader(self, other_than: str | None, within_s: float) -> float | None:
        """Seconds until a scheduler other than ``other_than`` leads; None if none did."""
        started = time.monotonic()
        while time.monotonic() - started < within_s:
            holder = self.leader()
            if holder is not None and holder != other_than:
                return time.monotonic() - started
            time.sleep(0.1)
        return None


@dataclass
class Returned:
    """When the failed service was back (wall clock), and what else the fault showed."""

    at: float
    note: str = ""


def stop_postgres(rig: Rig) -> Returned:
    rig.postgres.stop()
    time.sleep(rig.args.hold)
    rig.postgres.start()
    return Returned(time.time())


def stop_redis(rig: Rig) -> Returned:
    rig.redis.stop()
    time.sleep(rig.args.hold)
    rig.redis.start()
    return Returned(time.time())


def kill_redis_clients(rig: Rig) -> Returned:
    killed = rig.redis.kill_clients()
    return Returned(time.time(), f"{killed} connections killed")


def kill_webhook_worker(rig: Rig) -> Returned:
    pid = rig.fleet.webhook_workers()[0]
    os.kill(pid, signal.SIGKILL)
    return Returned(time.time(), f"webhook worker {pid} killed")


def kill_outbox_worker(rig: Rig) -> Returned:
    rig.fleet.kill9("worker-1")
    return Returned(time.time(), "worker-1 killed and started again")


def kill_leader(rig: Rig) -> Returned:
    leader = rig.leader()
    if leader is None:
        raise BenchError("no scheduler leads")
    name = rig.fleet.scheduler_of(leader)
    rig.fleet.kill9(name)
    killed = time.time()
    takeover = rig.wait_for_leader(leader, LEASE_MS / 1000 + 30)
    return Returned(killed, f"{name} killed; a new leader after {_seconds(takeover)}")


def freeze_leader(rig: Rig) -> Returned:
    """SIGSTOP past the lease, so a standby takes over while the old leader sleeps."""
    leader = rig.leader()
    if leader is None:
        raise BenchError("no scheduler leads")
    name = rig.fleet.scheduler_of(leader)
    process = rig.fleet.running[name]
    process.send_signal(signal.SIGSTOP)
    frozen_for = max(rig.args.hold, LEASE_MS / 1000 + 15)
    takeover = rig.wait_for_leader(leader, frozen_for)
    time.sleep(max(0.0, frozen_for - (takeover or frozen_for)))
    process.send_signal(signal.SIGCONT)
    woke = time.time()
    time.sleep(3)
    stood_down = "lost the lead; standing by" in rig.fleet.logs[name].read_text()
    return Returned(
        woke,
        f"{name} frozen {frozen_for:.0f} s; a new leader after {_seconds(takeover)}; "
        f"the old one {'stood down' if stood_down else 'did not say it stood down'}",
    )


def wechat_fault(errcode: int | None = None, delay_s: float = 0.0) -> Callable[[Rig], Returned]:
    def inject(rig: Rig) -> Returned:
        rig.fake.add_fault(CUSTOM_SEND, errcode=errcode, delay_s=delay_s, times=None)
        time.sleep(rig.args.hold)
        rig.fake.fake.clear_faults()
        cleared = time.time()
        if errcode == 45009:
            resume_quota_pauses(rig)
            return Returned(cleared, f"pauses lifted {time.time() - cleared:.1f} s after")
        return Returned(cleared)

    return inject


def resume_quota_pauses(rig: Rig) -> None:
    """What staff do once the quota is back (`aixiang outbox resume`): a spent daily
    quota pauses the channel for 20 minutes, longer than a phase. The pushes' recovery is
    counted from WeChat's return, so it includes the time these commands take."""
    for kind in PUSH_KINDS:
        subprocess.run(
            [sys.executable, "-m", "bot", "outbox", "resume", "--kind", kind],
            cwd=ROOT,
            env=rig.fleet.env,
            check=True,
            capture_output=True,
        )


@dataclass(frozen=True)
class Phase:
    name: str
    fault: Callable[[Rig], Returned]


PHASES = (
    Phase("postgres-stop", stop_postgres),
    Phase("redis-stop", stop_redis),
    Phase("redis-client-kill", kill_redis_clients),
    Phase("webhook-kill", kill_webhook_worker),
    Phase("worker-kill", kill_outbox_worker),
    Phase("leader-kill", kill_leader),
    Phase("leader-sigstop", freeze_leader),
    Phase("wechat-minus1", wechat_fault(errcode=-1)),
    Phase("wechat-45009", wechat_fault(errcode=45009)),
    Phase("wechat-slow", wechat_fault(delay_s=10.0)),
)


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


# A phase and its figures ----------------------------------------------------------------


@dataclass
class Figures:
    phase: str
    sent: int
    answered: int
    lost: int
    twice: int
    pushes: int
    delivered: int
    pushes_lost: int
    doubled: int
    waiting: int
    reply_recovery_s: float | None
    push_recovery_s: float | None
    note: str

    def row(self) -> str:
        return (
            f"{self.phase:<18}{self.sent:>6}{self.answered:>9}{self.lost:>6}{self.twice:>7}"
            f"{self.pushes:>8}{self.delivered:>11}{self.pushes_lost:>6}{self.doubled:>9}"
            f"{self.waiting:>9}{_short(self.reply_recovery_s):>10}{_short(self.push_recovery_s):>10}"
        )


HEADER = (
    f"{'fault':<18}{'sent':>6}{'answered':>9}{'lost':>6}{'twice':>7}{'pushes':>8}"
    f"{'delivered':>11}{'lost':>6}{'doubled':>9}{'waiting':>9}{'reply s':>10}{'push s':>10}"
)


def _short(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def run_phase(rig: Rig, phase: Phase, number: int) -> Figures:
    args = rig.args
    lead_in_s, tail_s = (3.0, 5.0) if args.quick else (5.0, 10.0)
    load = WeChatLoad(rig.webhook_url, phase.name, args.rate, first_msg_id=number * 10_000_000)
    feed = PushFeed(rig.engine, number * 100_000, args.pushes, lead_in_s + args.hold + tail_s)
    load.start()
    feed.start()
    time.sleep(lead_in_s)
    began = time.time()
    returned = phase.fault(rig)
    time.sleep(tail_s)
    load.stop()
    feed.stop()
    settle(rig, phase, feed)
    return measure(rig, phase, load, feed, began, returned)


def settle(rig: Rig, phase: Phase, feed: PushFeed) -> None:
    """Wait until the spool is drained and the phase's pushes are sent or final."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            health = requests.get(
                f"http://127.0.0.1:{rig.fleet.serve_port}/healthz", timeout=5
            ).json()
            if health["spool"]["depth"] == 0 and not in_flight(rig.engine, phase, feed):
                return
        except (requests.RequestException, ValueError, KeyError):
            pass
        time.sleep(0.5)
    print(f"  {phase.name}: not settled after {SETTLE_TIMEOUT_S:.0f} s")


def in_flight(engine: Engine, phase: Phase, feed: PushFeed) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                text(
                    "SELECT count(*) FROM outbox WHERE status IN ('pending', 'failed', 'sending') "
                    "AND (idempotency_key = ANY(:keys) OR recipient_openid LIKE :chats)"
                ),
                {"keys": push_keys(feed), "chats": f"o-chaos-{phase.name}-%"},
            ).scalar_one()
        )


def push_keys(feed: PushFeed) -> list[str]:
    return [f"need_status:chaos:{number}" for number in feed.numbers]


def measure(
    rig: Rig, phase: Phase, load: WeChatLoad, feed: PushFeed, began: float, returned: Returned
) -> Figures:
    stored, deferred, rows = stored_rows(rig.engine, phase, load, feed)
    delivered = Counter[str]()
    first_copy: dict[str, float] = {}
    first_push_after: float | None = None
    for call in rig.fake.calls(CUSTOM_SEND):
        result = call["result"]
        if call["status"] != 200 or not isinstance(result, dict) or result.get("errcode") != 0:
            continue
        content = call["body"]["text"]["content"]
        found = PUSH_NUMBER.search(content)
        key = found.group(1) if found else call["body"]["touser"]
        delivered[key] += 1
        first_copy.setdefault(key, call["time"])
        if call["time"] >= returned.at and first_push_after is None:
            first_push_after = call["time"] - returned.at
    messages = load.sent
    wanted = {str(number): status for number, status in rows.items()}
    wanted.update(deferred)
    replied_after = [
        end - returned.at
        for message in messages
        for started, end, outcome in message.copies
        if outcome == "reply" and started >= returned.at
    ]
    final = {"sent", "dead", "expired", "skipped"}
    return Figures(
        phase=phase.name,
        sent=len(messages),
        answered=sum(message.answered for message in messages),
        lost=sum(message.answered and not stored.get(message.msg_id) for message in messages),
        twice=sum(count > 1 for count in stored.values())
        + sum(message.replied and message.openid in deferred for message in messages),
        pushes=len(wanted),
        delivered=sum(delivered[key] > 0 for key in wanted),
        pushes_lost=sum(delivered[key] == 0 and status in final for key, status in wanted.items()),
        doubled=sum(max(0, delivered[key] - 1) for key in wanted),
        waiting=sum(delivered[key] == 0 and status not in final for key, status in wanted.items()),
        reply_recovery_s=min(replied_after, default=None),
        push_recovery_s=first_push_after,
        note="; ".join(
            part
            for part in (
                returned.note,
                _doubles(first_copy[key] - began for key in wanted if delivered[key] > 1),
                why_lost(rig.engine, phase, feed),
            )
            if part
        ),
    )


def _doubles(first_copies: Iterable[float]) -> str:
    """For pushes that reached WeChat twice, when their first copy did, from the fault's
    start: which sends the fault caught in flight."""
    offsets = ", ".join(f"{offset:+.1f}" for offset in sorted(first_copies))
    return f"doubled pushes first reached WeChat at {offsets} s" if offsets else ""


def stored_rows(
    engine: Engine, phase: Phase, load: WeChatLoad, feed: PushFeed
) -> tuple[dict[int, int], dict[str, str], dict[int, str]]:
    """Stored inbound rows per MsgId; the deferred replies' statuses by resident; the
    pushes' statuses by number."""
    with engine.connect() as connection:
        stored: dict[int, int] = dict(
            connection.execute(
                text(
                    "SELECT msg_id, count(*) FROM inbound_message WHERE msg_id = ANY(:ids) "
                    "GROUP BY msg_id"
                ),
                {"ids": [message.msg_id for message in load.sent]},
            ).all()
        )
        deferred: dict[str, str] = dict(
            connection.execute(
                text(
                    "SELECT recipient_openid, status FROM outbox "
                    "WHERE kind = 'deferred_reply' AND recipient_openid LIKE :chats"
                ),
                {"chats": f"o-chaos-{phase.name}-%"},
            ).all()
        )
        pushes = {
            int(key.rsplit(":", 1)[1]): status
            for key, status in connection.execute(
                text("SELECT idempotency_key, status FROM outbox WHERE idempotency_key = ANY(:k)"),
                {"k": push_keys(feed)},
            ).all()
        }
    return stored, deferred, pushes


def why_lost(engine: Engine, phase: Phase, feed: PushFeed) -> str:
    """The final statuses and errors of the phase's pushes that never reached WeChat."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT status, attempts, left(coalesce(last_error, ''), 80) FROM outbox "
                "WHERE status IN ('dead', 'expired', 'skipped') "
                "AND (idempotency_key = ANY(:keys) OR recipient_openid LIKE :chats)"
            ),
            {"keys": push_keys(feed), "chats": f"o-chaos-{phase.name}-%"},
        ).all()
    found = Counter(
        f"{status} after {attempts} attempts ({error})" for status, attempts, error in rows
    )
    return "; ".join(f"{count} {what}" for what, count in found.items())


# The run --------------------------------------------------------------------------------


@contextmanager
def rig_up(args: argparse.Namespace) -> Iterator[Rig]:
    binaries = postgres_bin()
    if binaries is None or shutil.which("redis-server") is None:
        raise BenchError("needs PostgreSQL's server binaries and redis-server")
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="aixiang-chaos-")))
        postgres = stack.enter_context(own_postgres(binaries))
        own_redis = OwnRedis(folder)
        own_redis.start()
        stack.callback(own_redis.stop)
        url = create_database(postgres.server_url, "aixiang_chaos")
        upgrade(url)
        engine = create_engine(url, pool_pre_ping=True)
        stack.callback(engine.dispose)
        fake = stack.enter_context(FakeWeChatServer(app_id=APP_ID, app_secret=APP_SECRET))
        env = server_env(
            folder,
            AIXIANG_DATABASE_URL=url,
            AIXIANG_REDIS_URL=own_redis.url,
            AIXIANG_WECHAT_TOKEN=TOKEN,
            AIXIANG_WECHAT_APP_ID=APP_ID,
            AIXIANG_WECHAT_APP_SECRET=APP_SECRET,
            AIXIANG_WECHAT_API_BASE_URL=fake.base_url,
            AIXIANG_BOT_SPOOL_DIR=str(folder / "spool"),
            AIXIANG_PUSH_LEASE_S=str(LEASE_S),
            AIXIANG_PUSH_BACKOFF_BASE_S="5",
            AIXIANG_PUSH_BACKOFF_MAX_S="60",
        )
        fleet = Fleet(env, folder, free_port())
        stack.callback(fleet.stop_all)
        fleet.start_all()
        rig = Rig(args, postgres, own_redis, fleet, fake, engine)
        if rig.wait_for_leader(None, LEASE_MS / 1000 + 30) is None:
            raise BenchError("no scheduler took the lead")
        yield rig


def main() -> None:
    args = parse_args()
    phases = [phase for phase in PHASES if not args.only or phase.name in args.only]
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    print(
        f"chaos benchmark, {time.strftime('%Y-%m-%d %H:%M')} UTC, commit {commit}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
        f"{args.rate:g} messages/s, {args.pushes} pushes and a {args.hold:g} s fault a phase"
    )
    figures: list[Figures] = []
    try:
        with rig_up(args) as rig:
            for number, phase in enumerate(phases, start=1):
                print(f"phase {phase.name} ...", flush=True)
                figures.append(run_phase(rig, phase, number))
                print(f"  {figures[-1].row()}", flush=True)
    except BenchError as exc:
        raise SystemExit(f"bench/chaos.py: {exc}") from None
    report(figures)


def report(figures: list[Figures]) -> None:
    print(
        "\nlost: answered, yet no stored row; twice: two stored rows for a MsgId, or a real "
        "reply and a deferred one; pushes lost: final without reaching WeChat; waiting: "
        "still queued; recovery: from the service's return (the kill for a kill) to the "
        "first real reply and the first push taken\n"
    )
    print(HEADER)
    for result in figures:
        print(result.row())
    print()
    for result in figures:
        if result.note:
            print(f"{result.phase}: {result.note}")


if __name__ == "__main__":
    main()
