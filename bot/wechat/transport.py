"""The HTTP transport to WeChat: pooled connections, and a direct way around requests'
per-call machinery for the one host it talks to (JSON calls through libcurl,
bot/wechat/curl.py; downloads through urllib3's pools)."""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import DEFAULT_CA_BUNDLE_PATH, get_encoding_from_headers, select_proxy
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import ClosedPoolError

from bot.wechat.download import Download, read_file

if TYPE_CHECKING:
    from bot.wechat.curl import CurlCalls

# Connections kept open to WeChat when the caller does not say how many threads share it.
DEFAULT_POOL_SIZE = 10
# Headers of a direct call (requests would add its own User-Agent, Accept and
# Accept-Encoding; WeChat needs none of them, and an uncompressed answer costs no inflating).
DIRECT_HEADERS = {"User-Agent": "aixiang"}
# What a call may carry to go the direct way (see WeChatSession.direct); anything else
# (file uploads, streams) goes through requests. ``max_bytes`` marks a capped download.
DIRECT_KWARGS = frozenset({"params", "data", "json", "timeout", "max_bytes"})


@dataclass(frozen=True)
class CurlRoute:
    """How libcurl reaches one host: through which proxy ("" for none) and, for TLS,
    which certificates verify the host (a bundle's path, or None not to verify)."""

    proxy: str
    ca_bundle: str | None


@dataclass(frozen=True)
class CurlAnswer:
    """What libcurl read: the status, the content type, the body."""

    status: int
    content_type: str | None
    body: bytes


class CallFailed(Exception):
    """A libcurl exchange failed before an answer; ``timed_out`` if for want of time."""

    def __init__(self, code: int, message: str, *, timed_out: bool) -> None:
        super().__init__(message)
        self.code = code
        self.timed_out = timed_out


@dataclass(frozen=True)
class _Route:
    """Where calls to one scheme and host go: the pool requests would pick for them, and
    whether the request line names the whole URL (plain HTTP through a proxy)."""

    pool: HTTPConnectionPool
    absolute: bool
    # How libcurl reaches the host; None when only urllib3 can (a client certificate,
    # a folder of certificates to verify with).
    curl: CurlRoute | None

    def open(
        self,
        method: str,
        url: str,
        target: str,
        body: bytes | None,
        headers: dict[str, str],
        timeout: urllib3.Timeout,
        preload_content: bool = True,
    ) -> urllib3.BaseHTTPResponse:
        """No retries and no redirects, as requests' defaults; errors raised as they come.
        Without ``preload_content`` the body is left to the caller to read."""
        return self.pool.urlopen(
            method,
            url if self.absolute else target,
            body=body,
            headers=headers,
            retries=False,
            redirect=False,
            assert_same_host=False,
            timeout=timeout,
            preload_content=preload_content,
        )


class WeChatSession(requests.Session):
    """requests' Session with a faster way for the one host it talks to.

    :meth:`direct` sends a call through the same adapter's urllib3 connection pools,
    chosen as requests chooses them (proxies, TLS verification, read from the environment
    once per host, as a running process's environment does not change), but without
    building requests' Request, PreparedRequest and hooks around every call: that
    machinery cost more CPU than the HTTP exchange itself, about 0.6 of the 1.1 ms a push
    took. Only public APIs of requests and urllib3 are used.
    """

    def __init__(self, pool_size: int) -> None:
        super().__init__()
        self._routes: dict[tuple[str, str], _Route] = {}
        self._curl: CurlCalls | None = None
        self._curl_lock = threading.Lock()
        # requests keeps 10 connections per host; threads beyond that would each open and
        # drop a connection per call.
        self._adapter = HTTPAdapter(pool_maxsize=max(pool_size, DEFAULT_POOL_SIZE))
        self.mount("https://", self._adapter)
        self.mount("http://", self._adapter)

    def direct(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: dict[str, str],
        timeout: urllib3.Timeout,
        limit_s: float | None,
        download: Download | None = None,
    ) -> requests.Response:
        """One exchange, answered as a requests Response (callers read its content,
        headers and status), within ``timeout`` (to connect, and each wait for the
        answer) and ``limit_s`` in all: through libcurl, or through the pooled urllib3
        connections for a ``download``, which is streamed: refused once it passes its
        size and cut off at its deadline, never held whole. Raises :class:`CallFailed`
        or urllib3's errors."""
        parts = urlsplit(url)
        host = (parts.scheme, parts.netloc)
        method = method.upper()
        route = self._routes.get(host) or self._route(host)
        res = requests.Response()
        res.url = url
        if download is None and route.curl is not None and method in ("GET", "POST"):
            answer = self._curl_calls().call(
                route.curl,
                method,
                url,
                body,
                headers,
                _seconds(timeout.connect_timeout),
                limit_s,
            )
            res.status_code = answer.status
            res.headers = CaseInsensitiveDict(
                {} if answer.content_type is None else {"Content-Type": answer.content_type}
            )
            res.raw = io.BytesIO(answer.body)
        else:
            raw = self._open(
                route, host, method, url, parts.path, parts.query, body, headers, timeout, download
            )
            res.status_code = raw.status
            res.reason = raw.reason or ""
            res.headers = CaseInsensitiveDict(raw.headers)
            # The body, already read, as the file requests reads ``content`` from.
            res.raw = io.BytesIO(raw.data if download is None else read_file(raw, download, parts))
        res.encoding = get_encoding_from_headers(res.headers)
        return res

    def _curl_calls(self) -> CurlCalls:
        """libcurl, loaded at the first JSON call: its libraries take about 7 MB of a
        process's memory, which the processes that load this module but never call
        WeChat (the webhook's workers, through the console's pages) need not pay."""
        if self._curl is not None:
            return self._curl
        with self._curl_lock:
            if self._curl is None:
                from bot.wechat.curl import CurlCalls

                self._curl = CurlCalls()
            return self._curl

    def _open(
        self,
        route: _Route,
        host: tuple[str, str],
        method: str,
        url: str,
        path: str,
        query: str,
        body: bytes | None,
        headers: dict[str, str],
        timeout: urllib3.Timeout,
        download: Download | None,
    ) -> urllib3.BaseHTTPResponse:
        """The exchange through urllib3's pool for the host."""
        target = f"{path or '/'}?{query}" if query else path or "/"
        preload = download is None
        try:
            return route.open(method, url, target, body, headers, timeout, preload)
        except ClosedPoolError:
            # The pool manager dropped this host's pool (it keeps a few hosts, and close()
            # empties it); nothing was sent, so the call goes to the host's new pool.
            return self._route(host).open(method, url, target, body, headers, timeout, preload)

    def _route(self, host: tuple[str, str]) -> _Route:
        base = f"{host[0]}://{host[1]}/"
        settings = self.merge_environment_settings(base, {}, None, None, None)
        request = requests.Request("GET", base).prepare()
        pool = cast(
            HTTPConnectionPool,
            self._adapter.get_connection_with_tls_context(
                request, settings["verify"], settings["proxies"], settings["cert"]
            ),
        )
        self._adapter.cert_verify(pool, base, settings["verify"], settings["cert"])
        line = self._adapter.request_url(request, settings["proxies"])
        route = _Route(
            pool,
            absolute=line != request.path_url,
            curl=_curl_route(base, settings),
        )
        self._routes[host] = route
        return route

    def close(self) -> None:
        self._routes.clear()
        if self._curl is not None:
            self._curl.close()
        super().close()


def _curl_route(base: str, settings: Mapping[str, Any]) -> CurlRoute | None:
    """What requests decided for ``base`` (proxy, TLS verification), for libcurl; None
    when a client certificate or a folder of certificates is asked for, which the
    urllib3 pool handles."""
    verify = settings["verify"]
    if settings["cert"] is not None or (isinstance(verify, str) and os.path.isdir(verify)):
        return None
    if verify is True:
        verify = DEFAULT_CA_BUNDLE_PATH
    proxy = select_proxy(base, settings["proxies"]) or ""
    return CurlRoute(proxy=proxy, ca_bundle=verify or None)


def _seconds(value: Any) -> float | None:
    """A urllib3 time limit in seconds; None for none (or urllib3's default, none)."""
    return float(value) if isinstance(value, int | float) else None


def urllib3_timeout(value: Any) -> urllib3.Timeout:
    """requests' timeout argument (seconds, or a (connect, read) pair) as urllib3's."""
    if isinstance(value, urllib3.Timeout):
        return value
    connect, read = value if isinstance(value, tuple) else (value, value)
    return urllib3.Timeout(connect=connect, read=read)


def overall_s(value: Any) -> float | None:
    """The whole exchange's time limit for requests' timeout argument (seconds, or a
    (connect, read) pair): the two phases together."""
    if value is None:
        return None
    return float(sum(value)) if isinstance(value, tuple) else float(value)
