"""The test guards themselves: an outbound connection fails the test, loopback does not."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bot.wechat.curl import CurlCalls
from bot.wechat.transport import CurlRoute
from tests.guards import is_local

# TEST-NET-1 (RFC 5737): never routed, so even an unguarded attempt would go nowhere.
OUTSIDE = ("192.0.2.1", 443)


@pytest.fixture
def listener() -> Iterator[tuple[str, int]]:
    """A loopback TCP server that accepts one connection and closes it."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        accepted = threading.Thread(target=lambda: server.accept()[0].close(), daemon=True)
        accepted.start()
        yield server.getsockname()
        accepted.join(timeout=5)


def test_connecting_outside_fails_the_test_with_the_address() -> None:
    with socket.socket() as sock, pytest.raises(pytest.fail.Exception, match=r"192\.0\.2\.1"):
        sock.connect(OUTSIDE)
    with socket.socket() as sock, pytest.raises(pytest.fail.Exception, match="loopback"):
        sock.connect_ex(OUTSIDE)
    with socket.socket(socket.AF_INET6) as sock, pytest.raises(pytest.fail.Exception):
        sock.connect(("2001:db8::1", 443, 0, 0))


def test_a_real_host_is_refused_before_it_is_looked_up() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"api\.weixin\.qq\.com"):
        socket.create_connection(("api.weixin.qq.com", 443), timeout=1)


def test_an_http_client_cannot_swallow_the_failure() -> None:
    """requests and urllib3 catch OSError around connect; the guard's failure is no
    OSError, so it reaches the test instead of becoming a retried ConnectionError."""
    with pytest.raises(pytest.fail.Exception, match=r"192\.0\.2\.1"):
        requests.get(f"http://{OUTSIDE[0]}/cgi-bin/token", timeout=1)


def test_wechat_calls_through_libcurl_meet_the_guard_too() -> None:
    """bot/wechat/curl.py opens its connections with Python's socket, so the guard sees
    them, and its failure reaches the test rather than becoming curl's "could not
    connect"."""
    calls = CurlCalls()
    url = f"http://{OUTSIDE[0]}:{OUTSIDE[1]}/cgi-bin/message/custom/send"
    with pytest.raises(pytest.fail.Exception, match=r"192\.0\.2\.1"):
        calls.call(CurlRoute(proxy="", ca_bundle=None), "POST", url, b"{}", {}, 1.0, 2.0)
    calls.close()


def test_loopback_and_unix_sockets_are_allowed(listener: tuple[str, int], tmp_path: Path) -> None:
    with socket.create_connection(listener, timeout=5):
        pass
    path = str(tmp_path / "s")
    with socket.socket(socket.AF_UNIX) as server, socket.socket(socket.AF_UNIX) as client:
        server.bind(path)
        server.listen()
        client.connect(path)


@pytest.mark.parametrize(
    ("address", "local"),
    [
        (("127.0.0.1", 80), True),
        (("127.8.9.10", 80), True),
        (("localhost", 80), True),
        (("::1", 80, 0, 0), True),
        (("::ffff:127.0.0.1", 80, 0, 0), True),
        ("/run/postgresql/.s.PGSQL.5432", True),
        (("10.0.0.1", 80), False),
        (("0.0.0.0", 80), False),
        (("api.weixin.qq.com", 443), False),
        (("fe80::1%eth0", 80, 0, 0), False),
    ],
)
def test_what_counts_as_local(address: object, local: bool) -> None:
    assert is_local(address) is local
