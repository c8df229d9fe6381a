"""``aixiang serve``: the production webhook under gunicorn, in its own process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
from click.testing import CliRunner

from bot.cli.main import main
from bot.config.sections import MEMORY_REDIS_URL
from bot.gunicorn_app import server_options
from bot.wechat.payloads import WeChatPayloads
from tests.helpers import free_port
from tests.settings import (
    TEST_AES_KEY,
    TEST_APP_ID,
    TEST_APP_SECRET,
    TEST_CONSOLE_SECRET,
    TEST_TOKEN,
)

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 30.0


def serve_env(database_url: str, redis_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "AIXIANG_CONFIG": "",
        "AIXIANG_DATABASE_URL": database_url,
        "AIXIANG_REDIS_URL": redis_url,
        "AIXIANG_WECHAT_TOKEN": TEST_TOKEN,
        "AIXIANG_WECHAT_APP_ID": TEST_APP_ID,
        "AIXIANG_WECHAT_APP_SECRET": TEST_APP_SECRET,
        "AIXIANG_WECHAT_ENCODING_AES_KEY": TEST_AES_KEY,
        "AIXIANG_CONSOLE_SECRET_KEY": TEST_CONSOLE_SECRET,
    }


def worker_pids(master: int) -> list[int]:
    """The gunicorn workers forked by ``master``, from /proc."""
    children = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            lines = status.read_text().splitlines()
        except OSError:
            continue
        if f"PPid:\t{master}" in lines:
            children.append(int(status.parent.name))
    return children


@pytest.fixture(scope="module")
def serve_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HOME of the served process: where gunicorn 27 would put its control socket."""
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, database_url: str, redis_url: str, serve_home: Path
) -> Iterator[tuple[str, int]]:
    """``aixiang serve`` on the suite's database, and how many workers it runs: two when
    Redis is real (serve refuses the in-process substitute with more than one)."""
    workers = 1 if redis_url == MEMORY_REDIS_URL else 2
    port = free_port()
    command = [sys.executable, "-m", "bot", "serve", "--port", str(port)]
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [*command, "--workers", str(workers)],
            cwd=tmp_path_factory.mktemp("cwd"),
            env={**serve_env(database_url, redis_url), "HOME": str(serve_home)},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}/wechat"
        deadline = time.monotonic() + START_TIMEOUT_S
        while len(worker_pids(process.pid)) < workers or not _answers(url):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield url, workers
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _answers(url: str) -> bool:
    """Whether the server answers yet; a worker still building its app holds the first
    connections the kernel gave its socket, for over a second on a busy machine."""
    try:
        requests.get(url, timeout=1)
    except (requests.ConnectionError, requests.Timeout):
        return False
    return True


def test_serve_answers_signed_messages_in_both_modes(served: tuple[str, int]) -> None:
    url, _ = served
    payloads = WeChatPayloads(TEST_TOKEN, TEST_APP_ID, TEST_AES_KEY)
    for safe in (False, True):
        delivery = payloads.sign(payloads.text(f"o-serve-{safe}", "帮助"), safe=safe)
        response = requests.post(url, params=delivery.query, data=delivery.body, timeout=10)
        assert response.status_code == 200
        reply = payloads.read_reply(response.content, safe=safe)
        assert reply["ToUserName"] == f"o-serve-{safe}"
        assert "活动" in reply["Content"]


def test_serve_opens_no_control_socket(served: tuple[str, int], serve_home: Path) -> None:
    """gunicorn 27 listens on a control socket (~/.gunicorn/gunicorn.ctl) unless told not
    to: a way to reload or stop the server that nothing here uses."""
    assert list(serve_home.rglob("*")) == []
    assert server_options("127.0.0.1", 8000, 2)["control_socket_disable"] is True


def test_serve_rejects_a_bad_signature(served: tuple[str, int]) -> None:
    url, _ = served
    payloads = WeChatPayloads(TEST_TOKEN, TEST_APP_ID, TEST_AES_KEY)
    delivery = payloads.sign(payloads.text("o-serve-forger", "help"))
    query = {**delivery.query, "signature": "0" * 40}
    response = requests.post(url, params=query, data=delivery.body, timeout=10)
    assert response.status_code == 403


def listening_sockets(port: int) -> int:
    """How many sockets listen on ``port`` on 127.0.0.1 (state 0A in /proc/net/tcp)."""
    local = f"0100007F:{port:04X}"
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for row in rows if row.split()[1] == local and row.split()[3] == "0A")


def test_each_worker_listens_on_a_socket_of_its_own(served: tuple[str, int]) -> None:
    """So the kernel spreads connections over the workers, rather than one worker keeping
    every keep-alive connection it happened to accept (bot/gunicorn_app.py)."""
    url, workers = served
    port = int(url.split(":")[2].split("/")[0])
    assert listening_sockets(port) == workers


def test_a_second_serve_on_the_same_port_is_refused(
    served: tuple[str, int], database_url: str, redis_url: str
) -> None:
    """The workers bind with SO_REUSEPORT, which would let a second server share the port
    silently; the check before gunicorn starts refuses it in one line."""
    url, _ = served
    port = int(url.split(":")[2].split("/")[0])
    # Its own process: a second server that did start would otherwise run inside pytest.
    second = subprocess.run(
        [sys.executable, "-m", "bot", "serve", "--port", str(port), "--workers", "1"],
        env=serve_env(database_url, MEMORY_REDIS_URL),
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
        check=False,
    )
    assert second.returncode == 2
    assert second.stderr == f"error: cannot listen on --port {port}: Address already in use\n"


def test_serve_serves_the_console(served: tuple[str, int]) -> None:
    url, _ = served
    root = url.removesuffix("/wechat")
    assert requests.get(f"{root}/console/sign-in", timeout=5).status_code == 200
    assert requests.get(f"{root}/console/", allow_redirects=False, timeout=5).status_code == 302


def test_serve_refuses_to_start_without_a_console_secret(database_url: str) -> None:
    env = {**serve_env(database_url, MEMORY_REDIS_URL), "AIXIANG_CONSOLE_SECRET_KEY": ""}
    result = CliRunner().invoke(main, ["serve", "--workers", "1"], env=env)
    assert result.exit_code == 2
    assert result.output.startswith("error: config: console.secret_key is required")
    assert result.output.count("\n") == 1


def test_serve_names_a_host_it_cannot_listen_on(database_url: str) -> None:
    result = CliRunner().invoke(
        main,
        ["serve", "--host", "no-such-host.invalid", "--workers", "1"],
        env=serve_env(database_url, MEMORY_REDIS_URL),
    )
    assert result.exit_code == 2
    assert result.output.startswith("error: cannot listen on no-such-host.invalid: ")
    assert result.output.count("\n") == 1


STALLED_CLIENTS = 50


def stall(port: int, kind: int, signed_query: str) -> socket.socket:
    """A connection that sends part of a request and then nothing: in the headers, in
    the body of an unsigned request, or in the body of a signed (replayed) one."""
    client = socket.create_connection(("127.0.0.1", port))
    head = "POST /wechat?{} HTTP/1.1\r\nHost: aixiang\r\n"
    if kind == 0:
        client.sendall(head.format("timestamp=1").encode())
    else:
        query = signed_query if kind == 2 else "timestamp=1&nonce=n&signature=x"
        client.sendall(head.format(query).encode() + b"Content-Length: 600\r\n\r\n<xml>")
    return client


def test_stalled_clients_do_not_hold_the_webhook(served: tuple[str, int]) -> None:
    """WeChat's messages are answered within its 5 s while 50 clients stall part-way
    through their requests (bot/gunicorn_app.py)."""
    url, _ = served
    port = int(url.split(":")[2].split("/")[0])
    payloads = WeChatPayloads(TEST_TOKEN, TEST_APP_ID, TEST_AES_KEY)
    replayed = urlencode(payloads.sign(payloads.text("o-serve-replayed", "帮助")).query)
    stalled = [stall(port, index % 3, replayed) for index in range(STALLED_CLIENTS)]
    try:
        for safe in (False, True):
            delivery = payloads.sign(payloads.text(f"o-serve-patient-{safe}", "帮助"), safe=safe)
            response = requests.post(url, params=delivery.query, data=delivery.body, timeout=5)
            assert "活动" in payloads.read_reply(response.content, safe=safe)["Content"]
    finally:
        for client in stalled:
            client.close()
