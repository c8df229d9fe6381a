"""A PostgreSQL server of a test module's own, to stop and start: never the shared one.

Started from the binaries of the machine's PostgreSQL into a temporary folder, with
fsync off (the tests need outages, not durability). PostgreSQL refuses to run as root,
so under root it runs as the ``postgres`` user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from tests.helpers import free_port

BIN_GLOB = "/usr/lib/postgresql/*/bin"


def postgres_bin() -> Path | None:
    """The newest installed server's binaries, or None when there is no server."""
    found = sorted(Path("/").glob(BIN_GLOB.lstrip("/")), key=lambda p: int(p.parent.name))
    return found[-1] if found else None


class OwnPostgres:
    def __init__(self, bin_dir: Path, folder: Path) -> None:
        self._bin = bin_dir
        self._data = folder / "data"
        self._socket = folder
        self.port = free_port()

    @property
    def server_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        self._run("initdb", "-D", str(self._data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def start(self) -> None:
        options = f"-p {self.port} -k {self._socket} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self._data), "-o", options, "-w", "-l", "/dev/null", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self._data), "-m", "immediate", "-w", "stop")

    def _run(self, program: str, *args: str) -> None:
        command = [str(self._bin / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, cwd="/")


@contextmanager
def own_postgres(bin_dir: Path) -> Iterator[OwnPostgres]:
    """A fresh server, running; stopped and deleted afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="aixiang-own-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    server = OwnPostgres(bin_dir, folder)
    server.init()
    server.start()
    try:
        yield server
    finally:
        with suppress(subprocess.CalledProcessError):  # a test left it stopped
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)
