"""The HTTP transport to WeChat: pooled connections, and a direct way around requests'
per-call machinery for the one host it talks to."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import ClosedPoolError

from bot.wechat.download import Download, read_file

# Connections kept open to WeChat when the caller does not say how many threads share it.
DEFAULT_POOL_SIZE = 10
# Headers of a direct call (requests would add its own User-Agent, Accept and
# Accept-Encoding; WeChat needs none of them, and an uncompressed answer costs no inflating).
DIRECT_HEADERS = {"User-Agent": f"aixiang python-urllib3/{urllib3.__version__}"}
# What a call may carry to go the direct way (see WeChatSession.direct); anything else
# (file uploads, streams) goes through requests. ``max_bytes`` marks a capped download.
DIRECT_KWARGS = frozenset({"params", "data", "json", "timeout", "max_bytes"})


@dataclass(frozen=True)
class _Route:
    """Where calls to one scheme and host go: the pool requests would pick for them, and
    whether the request line names the whole URL (plain HTTP through a proxy)."""

    pool: HTTPConnectionPool
    absolute: bool

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
        download: Download | None = None,
    ) -> requests.Response:
        """One exchange through the pooled connections, answered as a requests Response
        (callers read its content, headers and status). A ``download`` is streamed:
        refused once it passes its size and cut off at its deadline, never held whole."""
        parts = urlsplit(url)
        host = (parts.scheme, parts.netloc)
        target = f"{parts.path or '/'}?{parts.query}" if parts.query else parts.path or "/"
        method = method.upper()
        route = self._routes.get(host) or self._route(host)
        preload = download is None
        try:
            raw = route.open(method, url, target, body, headers, timeout, preload)
        except ClosedPoolError:
            # The pool manager dropped this host's pool (it keeps a few hosts, and close()
            # empties it); nothing was sent, so the call goes to the host's new pool.
            raw = self._route(host).open(method, url, target, body, headers, timeout, preload)
        res = requests.Response()
        res.status_code = raw.status
        res.reason = raw.reason or ""
        res.headers = CaseInsensitiveDict(raw.headers)
        res.encoding = get_encoding_from_headers(res.headers)
        res.url = url
        # The body, already read, as the file requests reads ``content`` from.
        res.raw = io.BytesIO(raw.data if download is None else read_file(raw, download, parts))
        return res

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
        route = _Route(pool, absolute=line != request.path_url)
        self._routes[host] = route
        return route

    def close(self) -> None:
        self._routes.clear()
        super().close()


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
