"""WeChat's JSON calls through libcurl (pycurl): the sending workers' hot path.

Through urllib3 each call built a request and parsed the answer's status line and
headers with Python's http.client and its email parser: about 250 µs of CPU a call on
this machine, against 70 µs for libcurl making the same exchange in C (bench/README.md,
bench/push.py). A push is one call, so the transport was the largest part of a sending
worker's CPU.

Each thread keeps a handle of its own (a handle is not safe to share, and it keeps its
connection open for the next call, as the urllib3 pool did per thread). What requests
would decide for a host is decided the same way, once per host (bot/wechat/transport.py
``WeChatSession``): the proxy from the environment, the certificates to verify TLS
with. Connections are opened by Python's ``socket`` (curl's open-socket callback), so
whatever governs Python's connections governs these too (the test suite's loopback
guard, tests/guards.py). Downloads, uploads and calls with a client certificate stay on
urllib3.
"""

from __future__ import annotations

import io
import os
import socket
import threading
from typing import Any

import pycurl

from bot.wechat.transport import CallFailed, CurlAnswer, CurlRoute


class CurlCalls:
    """One libcurl handle per thread, each with its open connection."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self._handles: list[pycurl.Curl] = []

    def call(
        self,
        route: CurlRoute,
        method: str,
        url: str,
        body: bytes | None,
        headers: dict[str, str],
        connect_s: float | None,
        overall_s: float | None,
    ) -> CurlAnswer:
        """One exchange (GET, or POST of ``body``), connecting within ``connect_s`` and
        done within ``overall_s`` (None: no limit). Raises :class:`CallFailed`."""
        handle = self._handle()
        buffer = io.BytesIO()
        handle.setopt(pycurl.URL, url)
        handle.setopt(pycurl.PROXY, route.proxy)
        if route.ca_bundle is None:
            handle.setopt(pycurl.SSL_VERIFYPEER, 0)
            handle.setopt(pycurl.SSL_VERIFYHOST, 0)
        else:
            handle.setopt(pycurl.SSL_VERIFYPEER, 1)
            handle.setopt(pycurl.SSL_VERIFYHOST, 2)
            handle.setopt(pycurl.CAINFO, route.ca_bundle)
        if method == "POST":
            handle.setopt(pycurl.POSTFIELDS, body or b"")
        else:
            handle.setopt(pycurl.HTTPGET, 1)
        # "Expect:" keeps curl from asking leave to send a larger body and waiting for it.
        lines = [f"{name}: {value}" for name, value in headers.items()]
        handle.setopt(pycurl.HTTPHEADER, [*lines, "Expect:"])
        handle.setopt(pycurl.CONNECTTIMEOUT_MS, _milliseconds(connect_s))
        handle.setopt(pycurl.TIMEOUT_MS, _milliseconds(overall_s))
        handle.setopt(pycurl.WRITEDATA, buffer)
        self._local.connect_s, self._local.escaped = connect_s, None
        self._local.opened = []
        try:
            handle.perform()
        except pycurl.error as error:
            escaped = self._local.escaped
            if escaped is not None:
                raise escaped from None
            code, message = error.args
            raise CallFailed(code, message, timed_out=code == pycurl.E_OPERATION_TIMEDOUT) from None
        finally:
            # curl keeps a duplicate of each socket it was handed; the originals go.
            for sock in self._local.opened:
                sock.close()
        return CurlAnswer(
            handle.getinfo(pycurl.RESPONSE_CODE),
            handle.getinfo(pycurl.CONTENT_TYPE),
            buffer.getvalue(),
        )

    def close(self) -> None:
        """Close every thread's handle and its connection; a later call opens new ones."""
        with self._lock:
            handles, self._handles = self._handles, []
        for handle in handles:
            handle.close()
        self._local = threading.local()

    def _handle(self) -> pycurl.Curl:
        """This thread's handle. One made before a fork belongs to the parent, whose
        connection it holds: the child makes its own and leaves that one alone."""
        handle: pycurl.Curl | None = getattr(self._local, "handle", None)
        if handle is not None and self._local.pid == os.getpid():
            return handle
        handle = pycurl.Curl()
        handle.setopt(pycurl.NOSIGNAL, 1)
        handle.setopt(pycurl.FOLLOWLOCATION, 0)
        handle.setopt(pycurl.OPENSOCKETFUNCTION, self._open_socket)
        handle.setopt(pycurl.SOCKOPTFUNCTION, _already_connected)
        self._local.handle, self._local.pid = handle, os.getpid()
        with self._lock:
            self._handles.append(handle)
        return handle

    def _open_socket(self, purpose: int, address: Any) -> socket.socket | None:
        """Connect through Python's ``socket`` within the call's connect time, so the
        process's own rules for connections apply; curl takes the socket as it is
        (:func:`_already_connected`). A refused or timed-out connect is curl's "could not
        connect"; anything else raised here (a bug, a test's guard) is kept and raised
        by :meth:`call`, which curl's callback would otherwise swallow."""
        family, socktype, protocol, target = address
        sock = socket.socket(family, socktype, protocol)
        try:
            sock.settimeout(self._local.connect_s)
            sock.connect(target)
        except OSError:
            sock.close()
            return None
        except BaseException as exc:
            sock.close()
            self._local.escaped = exc
            return None
        self._local.opened.append(sock)
        return sock


def _already_connected(fd: int, purpose: int) -> int:
    return int(pycurl.SOCKOPT_ALREADY_CONNECTED)


def _milliseconds(seconds: float | None) -> int:
    """libcurl's time limit: 0 means none."""
    return 0 if seconds is None else max(1, round(seconds * 1000))
