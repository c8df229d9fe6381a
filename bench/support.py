"""What the benchmarks share: a dedicated database, their server processes, CPU from /proc.

Each bench/*.py script builds its own PostgreSQL database on the bench server, starts the
project's processes with a clean environment, and counts the CPU time they use from
/proc, so that what another process on a shared machine uses is not counted as theirs.
The scripts put the repository root on sys.path and import this as ``bench.support``.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
# The WeChat account the bench's servers are configured with (bench/lean_wechat.py's
# defaults too).
TOKEN = "bench-token"
APP_ID = "wxbench0000000000"
APP_SECRET = "bench-secret"
TICKS_PER_S = os.sysconf("SC_CLK_TCK")
# What process_cpu names the PostgreSQL backends serving the bench's own database.
BENCH_BACKEND = "bench-postgres"


class BenchError(Exception):
    """Something the bench needs is missing or broke; the message is one line."""


# Database -------------------------------------------------------------------------------


def server_url() -> str:
    return os.environ.get("AIXIANG_BENCH_SERVER_URL", DEFAULT_SERVER_URL)


def redis_url(default_database: int) -> str:
    """Each script has its own Redis database by default, so their keys never meet."""
    return os.environ.get("AIXIANG_BENCH_REDIS_URL", f"redis://127.0.0.1:6379/{default_database}")


def database_url(server: str, name: str) -> str:
    url = make_url(server).set(drivername="postgresql+psycopg", database=name)
    return url.render_as_string(hide_password=False)


def create_database(server: str, name: str) -> str:
    """A fresh, empty ``name`` on the server (one a previous run left is dropped first)."""
    url = make_url(server).set(drivername="postgresql+psycopg")
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        raise BenchError(f"cannot create {name} on {server}: {exc}") from None
    finally:
        admin.dispose()
    return database_url(server, name)


def drop_database(url: str) -> None:
    database = make_url(url)
    admin = create_engine(database.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{database.database}" WITH (FORCE)'))
    admin.dispose()


@contextmanager
def dedicated_database(name: str, keep: bool = False) -> Iterator[str]:
    """The URL of a fresh ``name`` on the bench server, dropped afterwards unless ``keep``."""
    url = create_database(server_url(), name)
    try:
        yield url
    finally:
        if not keep:
            drop_database(url)


# Processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def server_env(workdir: Path, **settings: str) -> dict[str, str]:
    """This process's environment without its AIXIANG_* variables, plus ``settings`` and
    an empty config file: the server runs on what the bench sets and nothing it inherits.
    The app also serves the console, whose session key this run makes up."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIXIANG_")}
    empty_config = workdir / "config.toml"
    empty_config.write_text("")
    env.update(
        AIXIANG_CONFIG=str(empty_config),
        AIXIANG_CONSOLE_SECRET_KEY=secrets.token_hex(32),
        **settings,
    )
    return env


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    peak_rss_mb: float = 0.0

    def log_tail(self) -> str:
        lines = self.log_path.read_text(errors="replace").splitlines()
        return " | ".join(lines[-3:])

    def sample_rss(self) -> None:
        """The peak so far (VmHWM), so a peak between two samples is not missed."""
        try:
            status = Path(f"/proc/{self.popen.pid}/status").read_text()
        except OSError:
            return
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                self.peak_rss_mb = max(self.peak_rss_mb, int(line.split()[1]) / 1024)


@contextmanager
def running(
    name: str,
    command: list[str],
    workdir: Path,
    env: dict[str, str] | None = None,
    stop_timeout_s: float = 15.0,
) -> Iterator[Process]:
    """Run ``command`` from the repository root, its output in ``workdir/<name>.log``;
    terminate it afterwards, and kill it if it has not stopped in ``stop_timeout_s``."""
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        popen = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        yield Process(name, popen, log_path)
    finally:
        popen.terminate()
        try:
            popen.wait(stop_timeout_s)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()


# CPU from /proc -------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessTicks:
    name: str
    ppid: int
    # CPU ticks so far, user + system.
    ticks: int
    cmdline: bytes


def _stat_fields(stat: str) -> list[str]:
    """The fields after the command name, which may itself hold spaces and parentheses."""
    return stat.rsplit(")", 1)[1].split()


def cpu_ticks(pid: int) -> int:
    """CPU ticks process ``pid`` has used so far, user + system."""
    fields = _stat_fields(Path(f"/proc/{pid}/stat").read_text())
    return int(fields[11]) + int(fields[12])


def processes() -> dict[int, ProcessTicks]:
    """Every process still there by the time its turn to be read comes."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            fields = _stat_fields(stat)
            found[int(entry.name)] = ProcessTicks(
                name=stat[stat.index("(") + 1 : stat.rindex(")")],
                ppid=int(fields[1]),
                ticks=int(fields[11]) + int(fields[12]),
                cmdline=cmdline,
            )
    return found


def process_cpu(database: str | None = None) -> dict[int, tuple[str, int]]:
    """Every process's name and CPU ticks so far.

    With ``database``, PostgreSQL backends serving it are named BENCH_BACKEND, so other
    databases' work on a shared server counts as other processes.
    """
    found = {}
    for pid, process in processes().items():
        name = process.name
        if (
            database is not None
            and name.startswith("postgres")
            and f" {database} ".encode() in process.cmdline
        ):
            name = BENCH_BACKEND
        found[pid] = (name, process.ticks)
    return found


def python_speed_ms() -> float:
    """How long this machine takes right now for a fixed pure-Python loop, best of 3.

    Its speed varies by up to 2x within minutes with nothing else running
    (bench/README.md); printed beside a run's figures, this says which speed they were
    taken at, so runs from different days can be compared.
    """
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for n in range(1_000_000):
            total += n
        best = min(best, time.perf_counter() - started)
    return best * 1000


def machine_busy_ticks() -> tuple[int, int, int]:
    """Ticks all cores spent busy so far, all their ticks, and the ticks the host gave
    to someone else (steal: this machine's cores are virtual and shared)."""
    user, nice, system, idle, iowait, irq, softirq, steal = (
        int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    busy = user + nice + system + irq + softirq
    return busy, busy + idle + iowait + steal, steal


@dataclass
class CpuMeter:
    """CPU seconds used between start() and stop(), by process group (stop() must come
    before the processes measured exit, or their time is lost). With ``database``, its
    PostgreSQL backends are named BENCH_BACKEND (see process_cpu)."""

    database: str | None = None
    before: dict[int, tuple[str, int]] = field(default_factory=dict)
    after: dict[int, tuple[str, int]] = field(default_factory=dict)
    busy_before: tuple[int, int, int] = (0, 0, 0)
    busy_after: tuple[int, int, int] = (0, 0, 0)

    def start(self) -> None:
        self.before, self.busy_before = process_cpu(self.database), machine_busy_ticks()

    def stop(self) -> None:
        self.after, self.busy_after = process_cpu(self.database), machine_busy_ticks()

    def ticks_of_pids(self, pids: list[int]) -> int:
        return sum(
            self.after.get(pid, ("", 0))[1] - self.before.get(pid, ("", 0))[1] for pid in pids
        )

    def seconds_of_pids(self, pids: list[int]) -> float:
        return self.ticks_of_pids(pids) / TICKS_PER_S

    def seconds_of_name(self, prefix: str) -> float:
        pids = [pid for pid, (name, _) in self.after.items() if name.startswith(prefix)]
        return self.seconds_of_pids(pids)

    def machine_seconds(self) -> float:
        busy = self.busy_after[0] - self.busy_before[0]
        return busy / TICKS_PER_S

    def machine_busy_share(self) -> float:
        """The share of all the machine's core time that was busy; 0 if none passed."""
        return self._share(0)

    def machine_steal_share(self) -> float:
        """The share of all the machine's core time the host gave to other machines."""
        return self._share(2)

    def _share(self, index: int) -> float:
        part = self.busy_after[index] - self.busy_before[index]
        total = self.busy_after[1] - self.busy_before[1]
        return part / total if total else 0.0
