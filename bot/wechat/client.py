"""The one way out to WeChat's API, safe to share between threads and processes.

WeChat rations access tokens, and its plain ``token`` endpoint invalidates the previous
token on every call, so every process must use the same one. Here the token lives in Redis;
one process at a time fetches it, under a Redis lock, through ``stable_token`` (which hands
back the token already issued instead of replacing it); every call has a timeout; and a
rejected token means one refresh, one retry, then an error that keeps WeChat's errcode
(wechatpy's own client retries without bound). When Redis is down each process keeps its
own token and carries on. Only public APIs of wechatpy, requests and urllib3 are used: the
client is its own class, not a subclass of wechatpy's.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import SplitResult, urlencode, urlsplit

import redis
import requests
import urllib3
from redis.exceptions import LockError, LockNotOwnedError, WatchError
from redis.lock import Lock
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import ClosedPoolError, NewConnectionError
from wechatpy.client.api import WeChatMedia, WeChatMenu, WeChatMessage, WeChatTag
from wechatpy.exceptions import WeChatClientException
from wechatpy.session import SessionStorage

from bot.config.sections import Config
from bot.redis_conn import degradable
from bot.wechat.errors import Refusal, refusal

log = logging.getLogger(__name__)
# Stop using a token this long before WeChat says it expires: stable_token hands out the
# next one during the old one's last five minutes.
TOKEN_MARGIN_S = 300
# A process reuses the token it last read from Redis for this long instead of reading it
# again for every call (a round trip per push). A token another process replaced meanwhile
# is refused once (40001), and the refresh then finds the replacement in Redis; one that
# merely reached its Redis expiry still has most of TOKEN_MARGIN_S to live at WeChat.
TOKEN_REUSE_S = 5.0
# Connections kept open to WeChat when the caller does not say how many threads share it.
DEFAULT_POOL_SIZE = 10
KEY_PREFIX = "aixiang:wechat"
# Headers of a direct call (requests would add its own User-Agent, Accept and
# Accept-Encoding; WeChat needs none of them, and an uncompressed answer costs no inflating).
_DIRECT_HEADERS = {"User-Agent": f"aixiang python-urllib3/{urllib3.__version__}"}
_UNREACHABLE = object()
# The endpoints that answer a file rather than JSON (a photo a resident sent, a QR code).
DOWNLOAD_ENDPOINTS = ("/media/get", "/showqrcode")


class WeChatAPIError(WeChatClientException):
    """A WeChat call failed. ``errcode`` is WeChat's code, or None when no answer came;
    callers act on :attr:`refusal`, what the code means (bot/wechat/errors.py), so that
    a resident who cannot be reached is told from a call worth retrying."""

    @property
    def refusal(self) -> Refusal:
        return refusal(self.errcode)


class WeChatTokenRejected(WeChatAPIError):
    """WeChat refused the access token, and then refused a freshly fetched one too."""


class WeChatTransportError(WeChatAPIError):
    """No usable answer: the connection failed, or an HTTP error status came back."""


class WeChatTimeout(WeChatTransportError):
    """WeChat did not answer within ``wechat.http_timeout_s``."""


class WeChatFileTooLarge(WeChatAPIError):
    """A downloaded file was bigger than the caller would keep; reading stopped there."""


class SharedStorage(SessionStorage):
    """wechatpy's session storage in Redis, so all processes share one token (and jsapi
    ticket), with a process-local copy that stands in while Redis is unreachable."""

    def __init__(self, redis_client: redis.Redis, prefix: str = KEY_PREFIX) -> None:
        self._redis = redis_client
        self._prefix = prefix
        self._local: dict[str, tuple[Any, float]] = {}

    def _name(self, key: str) -> str:
        return f"{self._prefix}:{key}"

    def get(self, key: str, default: Any = None) -> Any:
        name = self._name(key)
        raw = degradable("read WeChat session", lambda: self._redis.get(name), _UNREACHABLE)
        if raw is _UNREACHABLE:
            value, expires_at = self._local.get(name, (default, 0.0))
            return value if expires_at > time.monotonic() else default
        return json.loads(raw) if isinstance(raw, str | bytes) else default

    def set(self, key: str, value: Any, ttl: int | None = None) -> None:
        name = self._name(key)
        self._local[name] = (value, time.monotonic() + ttl if ttl else math.inf)
        degradable(
            "store WeChat session",
            lambda: self._redis.set(name, json.dumps(value), ex=ttl),
            None,
        )

    def delete(self, key: str) -> None:
        name = self._name(key)
        self._local.pop(name, None)
        degradable("delete WeChat session", lambda: self._redis.delete(name), None)


# What a call may carry to go the direct way (see _WeChatSession.direct); anything else
# (file uploads, streams) goes through requests. ``max_bytes`` marks a capped download.
_DIRECT_KWARGS = frozenset({"params", "data", "json", "timeout", "max_bytes"})
# How much of a downloaded file is read at a time.
_DOWNLOAD_CHUNK = 64 * 1024


@dataclass(frozen=True)
class _Download:
    """How a file answer is read: at most ``max_bytes`` of it, all by ``deadline``
    (``time.monotonic()``), ``limit_s`` after the call began; None for no deadline. No
    single read waits longer than ``read_s``, the call's read timeout."""

    max_bytes: int
    limit_s: float | None
    deadline: float | None
    read_s: float | None


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


class _WeChatSession(requests.Session):
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
        download: _Download | None = None,
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
        res.raw = io.BytesIO(raw.data if download is None else _read_file(raw, download, parts))
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


class _TransactionalLock(Lock):
    """redis-py's Lock, released with WATCH/MULTI instead of a Lua script, because the
    embedded Redis substitute (fakeredis, in the demo and tests) has no Lua."""

    def do_release(self, expected_token: str | bytes) -> None:
        encoder = self.redis.get_encoder()
        with self.redis.pipeline() as pipe:
            try:
                pipe.watch(self.name)
                stored = pipe.get(self.name)
                if stored is None or encoder.encode(stored) != expected_token:
                    raise LockNotOwnedError(
                        "Cannot release a lock that's no longer owned", lock_name=self.name
                    )
                pipe.multi()
                pipe.delete(self.name)
                pipe.execute()
            except WatchError:
                raise LockNotOwnedError(
                    "The lock changed hands while being released", lock_name=self.name
                ) from None


class AixiangWeChatClient:
    """The HTTP client every WeChat call goes through: a shared token, a timeout, a
    bounded retry, pooled connections.

    It wraps nothing of wechatpy's client internals: its own ``get``/``post`` are what
    wechatpy's API areas (``message``, ``media``, ``menu``, ``tag``, built here through
    their public constructors, for callers that speak wechatpy) and this project's facade
    (bot/wechat/api.py) call.
    """

    def __init__(
        self,
        appid: str,
        secret: str,
        *,
        api_base_url: str,
        timeout: float,
        redis_client: redis.Redis,
        pool_size: int = DEFAULT_POOL_SIZE,
    ) -> None:
        self.appid = appid
        self.secret = secret
        self.timeout = timeout
        self.session = SharedStorage(redis_client)
        self.API_BASE_URL = api_base_url if api_base_url.endswith("/") else f"{api_base_url}/"
        self.message = WeChatMessage(self)
        self.media = WeChatMedia(self)
        self.menu = WeChatMenu(self)
        self.tag = WeChatTag(self)
        self._http = _WeChatSession(pool_size)
        self._redis = redis_client
        self._refresh_guard = threading.Lock()
        self._token_copy: tuple[str, float] | None = None
        # A fetch is one request of at most a connect and a read timeout; the lock must
        # outlive it, and whoever waits must wait at least that long.
        self._lock_timeout_s = 2 * timeout + 1

    @property
    def access_token_key(self) -> str:
        """The session key of the token, as wechatpy names it (tokens stored before are
        found again)."""
        return f"{self.appid}_access_token"

    @property
    def access_token(self) -> str:
        copy = self._token_copy
        if copy is not None and copy[1] > time.monotonic():
            return copy[0]
        token = self.session.get(self.access_token_key)
        return self._keep(str(token)) if token else self.refresh_access_token()

    def _keep(self, token: str) -> str:
        self._token_copy = (token, time.monotonic() + TOKEN_REUSE_S)
        return token

    def refresh_access_token(self, rejected: str | None = None) -> str:
        """A working token, fetched at most once however many threads and processes ask.

        Whoever holds the lock fetches; the others wait, then find the new token in Redis
        (looked up again after the lock, since it may have arrived while they waited).
        ``rejected`` is a token WeChat refused: never handed back, and replacing it takes
        ``force_refresh``, because stable_token would otherwise return that same token.
        """
        with self._refresh_lock():
            current = self.session.get(self.access_token_key)
            if current and current != rejected:
                return self._keep(str(current))
            result = self.fetch_access_token(force_refresh=rejected is not None)
            return self._keep(str(result["access_token"]))

    def fetch_access_token(self, force_refresh: bool = False) -> dict[str, Any]:
        """Fetch a token from ``stable_token`` and store it for everyone.

        Unlike ``token``, stable_token returns the token already issued while it is valid,
        so fetching here, unless forced, never invalidates a token another process uses.
        """
        res = self._send(
            "post",
            f"{self.API_BASE_URL}stable_token",
            json={
                "grant_type": "client_credential",
                "appid": self.appid,
                "secret": self.secret,
                "force_refresh": force_refresh,
            },
            timeout=self.timeout,
        )
        result = _decode(res)
        if not isinstance(result, dict) or not result.get("access_token"):
            errcode = _errcode(result) or None
            errmsg = result.get("errmsg") if isinstance(result, dict) else "an answer not JSON"
            raise WeChatAPIError(
                errcode,
                f"could not get an access token for app {self.appid!r}: {errmsg}",
                client=self,
                request=res.request,
                response=res,
            )
        expires_in = int(result.get("expires_in", 7200))
        self.session.set(
            self.access_token_key, result["access_token"], max(1, expires_in - TOKEN_MARGIN_S)
        )
        log.info("fetched a WeChat access token (force_refresh=%s)", force_refresh)
        return result

    @contextmanager
    def _refresh_lock(self) -> Iterator[None]:
        """Threads of this process queue on a local lock, processes on a Redis lock; with
        Redis down only the local one holds, which is all a lone process needs."""
        with self._refresh_guard:
            lock = self._redis.lock(
                f"{KEY_PREFIX}:{self.appid}:token-refresh",
                timeout=self._lock_timeout_s,
                sleep=0.05,
                blocking_timeout=self._lock_timeout_s,
                lock_class=_TransactionalLock,
            )
            held = degradable("lock the WeChat token refresh", lock.acquire, None)
            if held is False:
                log.warning(
                    "waited %.0fs for another process to refresh the WeChat token; "
                    "fetching one here",
                    self._lock_timeout_s,
                )
            try:
                yield
            finally:
                if held:
                    _release(lock)

    def get(self, url_or_endpoint: str, **kwargs: Any) -> Any:
        """A GET to WeChat's API: its JSON, or for a download endpoint the file."""
        return self._request("get", url_or_endpoint, **kwargs)

    def post(self, url_or_endpoint: str, **kwargs: Any) -> Any:
        """A POST to WeChat's API (``data``: a dict sent as JSON, or bytes): its JSON."""
        return self._request("post", url_or_endpoint, **kwargs)

    def _request(self, method: str, url_or_endpoint: str, **kwargs: Any) -> Any:
        """One call, sent through :meth:`_send` so that transport failures raise this
        module's errors. ``api_base_url`` (as wechatpy's API areas pass it) replaces the
        configured base; ``result_processor`` maps a successful answer."""
        base_url = kwargs.pop("api_base_url", self.API_BASE_URL)
        absolute = url_or_endpoint.startswith(("http://", "https://"))
        url = url_or_endpoint if absolute else f"{base_url}{url_or_endpoint}"
        params = kwargs.setdefault("params", {})
        if isinstance(params, dict) and "access_token" not in params:
            params["access_token"] = self.access_token
        if isinstance(kwargs.get("data"), dict):
            kwargs["data"] = json.dumps(kwargs["data"], ensure_ascii=False).encode("utf-8")
        kwargs.setdefault("timeout", self.timeout)
        result_processor = kwargs.pop("result_processor", None)
        res = self._send(method, url, **kwargs)
        return self._handle_result(res, method, url, result_processor, **kwargs)

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """One HTTP exchange. Messages name the URL without its query, which holds the token."""
        try:
            res = self._exchange(method, url, kwargs)
            res.raise_for_status()
        except NewConnectionError as exc:  # urllib3 counts it as a connect timeout too
            raise WeChatTransportError(
                None, f"could not reach {url}: {type(exc).__name__}", client=self
            ) from exc
        except (requests.Timeout, urllib3.exceptions.TimeoutError) as exc:
            raise WeChatTimeout(
                None,
                f"no answer from {url} within {kwargs.get('timeout')}s",
                client=self,
                request=getattr(exc, "request", None),
            ) from exc
        except requests.HTTPError as exc:
            raise WeChatTransportError(
                None,
                f"{url} answered HTTP {exc.response.status_code}",
                client=self,
                request=exc.request,
                response=exc.response,
            ) from exc
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            raise WeChatTransportError(
                None, f"could not reach {url}: {type(exc).__name__}", client=self
            ) from exc
        return res

    def _exchange(self, method: str, url: str, kwargs: dict[str, Any]) -> requests.Response:
        """The call through :meth:`_WeChatSession.direct` when it carries only a query, a
        body and a timeout, as every JSON API call does; through requests otherwise."""
        params = kwargs.get("params")
        data = kwargs.get("data")
        payload = kwargs.get("json")
        if (
            kwargs.keys() - _DIRECT_KWARGS
            or not isinstance(params, dict | None)
            or not isinstance(data, bytes | None)
            or (data is not None and payload is not None)
        ):
            return self._http.request(method=method, url=url, **kwargs)
        headers = dict(_DIRECT_HEADERS)
        if payload is not None:
            data = json.dumps(payload, allow_nan=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if params:
            query = urlencode([(k, v) for k, v in params.items() if v is not None], doseq=True)
            url = f"{url}{'&' if '?' in url else '?'}{query}"
        max_bytes = kwargs.get("max_bytes")
        download = None
        timeout = _timeout(kwargs.get("timeout"))
        if max_bytes is not None:
            limit_s = _overall_s(kwargs.get("timeout"))
            deadline = None if limit_s is None else time.monotonic() + limit_s
            download = _Download(max_bytes, limit_s, deadline, timeout.read_timeout)
        return self._http.direct(method, url, data, headers, timeout, download)

    def _handle_result(
        self,
        res: requests.Response,
        method: str | None = None,
        url: str | None = None,
        result_processor: Callable[[dict[str, Any]], Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """The answer's JSON, or an error keeping WeChat's errcode. A rejected token is
        refreshed once and the call retried once (wechatpy's own client retries without
        bound, which ends in a RecursionError while WeChat keeps refusing: a reset
        secret, a token replaced)."""
        result = _decode(res)
        if refusal(_errcode(result)) is Refusal.TOKEN and method and url:
            params = kwargs["params"]
            log.info(
                "WeChat rejected the access token (errcode %s); refreshing it once",
                _errcode(result),
            )
            params["access_token"] = self.refresh_access_token(rejected=params["access_token"])
            res = self._send(method, url, **kwargs)
            result = _decode(res)
            if refusal(_errcode(result)) is Refusal.TOKEN:
                raise WeChatTokenRejected(
                    _errcode(result),
                    f"WeChat rejected a freshly fetched access token too: {result.get('errmsg')}",
                    client=self,
                    request=res.request,
                    response=res,
                )
        if not isinstance(result, dict):
            return self._download(res, url)
        errcode = _errcode(result)
        if errcode:
            raise WeChatAPIError(
                errcode,
                result.get("errmsg", ""),
                client=self,
                request=res.request,
                response=res,
            )
        return result_processor(result) if result_processor else result

    def _download(self, res: requests.Response, url: str | None) -> requests.Response:
        """A non-JSON answer: a file from a download endpoint, else an error worth retrying.

        Anything else answers JSON, so a page from a gateway or a proxy in front of WeChat
        ("502 upstream busy" with HTTP 200) means the call's fate is unknown; taking it as
        success would record a push as sent that nobody received.
        """
        path = urlsplit(url or "").path
        if path.endswith(DOWNLOAD_ENDPOINTS):
            return res
        content_type = res.headers.get("Content-Type") or "no content type"
        raise WeChatTransportError(
            None,
            f"{path or 'WeChat'} answered HTTP {res.status_code} with {content_type}, not JSON",
            client=self,
            request=res.request,
            response=res,
        )

    def close(self) -> None:
        """Close the pooled HTTP connections, which wechatpy never does."""
        self._http.close()


def _timeout(value: Any) -> urllib3.Timeout:
    """requests' timeout argument (seconds, or a (connect, read) pair) as urllib3's."""
    if isinstance(value, urllib3.Timeout):
        return value
    connect, read = value if isinstance(value, tuple) else (value, value)
    return urllib3.Timeout(connect=connect, read=read)


def _overall_s(value: Any) -> float | None:
    """The whole exchange's time limit for requests' timeout argument (seconds, or a
    (connect, read) pair): the two phases together."""
    if value is None:
        return None
    return float(sum(value)) if isinstance(value, tuple) else float(value)


def _read_file(raw: urllib3.BaseHTTPResponse, download: _Download, parts: SplitResult) -> bytes:
    """A streamed file answer, read under ``download``'s size cap and deadline. A refused
    or late answer's connection is closed rather than drained, as the rest is not wanted."""
    reader = _CappedReader(raw, download, parts)
    try:
        return reader.read()
    except BaseException:
        raw.close()
        raise
    finally:
        reader.stop()
        raw.release_conn()


class _CappedReader:
    """Reads a streamed body of at most ``download.max_bytes``, all of it by the deadline.

    urllib3's read timeout bounds each socket read, so an answer trickling in a byte at a
    time would otherwise never time out. While the connection stays open after the
    answer (keep-alive), each read waits only what is left of the whole: the connection's
    socket gets that timeout before each read (``read1``, one socket read at a time).
    Only this thread touches the socket, and only while the response still holds its
    connection: urllib3 hands it back to the pool inside the read that ends the body,
    and another call may be using it by then. An answer that closes the connection after
    it (``Connection: close``) has left the connection without a socket, and its socket
    is never used again, so there a timer shuts the response down at the deadline
    (urllib3's ``shutdown``), which ends a read waiting on it.
    """

    def __init__(
        self, raw: urllib3.BaseHTTPResponse, download: _Download, parts: SplitResult
    ) -> None:
        self._raw = raw
        self._download = download
        self._parts = parts
        self._timer: threading.Timer | None = None
        self._cut_off = threading.Event()

    def read(self) -> bytes:
        """The body: refused up front by its Content-Length when it declares one, else as
        soon as the bytes read pass the limit."""
        max_bytes = self._download.max_bytes
        declared = str(self._raw.headers.get("Content-Length") or "")
        if declared.isdecimal() and int(declared) > max_bytes:
            raise WeChatFileTooLarge(None, f"the file is {declared} bytes, over {max_bytes}")
        content = bytearray()
        while chunk := self._chunk():
            content += chunk
            if len(content) > max_bytes:
                raise WeChatFileTooLarge(None, f"the file is over {max_bytes} bytes")
        if self._cut_off.is_set():  # the end came from the shutdown, not from the server
            raise self._late()
        return bytes(content)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _chunk(self) -> bytes:
        """One socket read's worth of the body, waiting no longer than the read timeout
        nor past the deadline."""
        raw, download = self._raw, self._download
        connection = raw.connection
        if connection is None:
            return raw.read1(_DOWNLOAD_CHUNK)  # the body has ended: nothing left to wait for
        wait_s = download.read_s
        if download.deadline is not None:
            left_s = download.deadline - time.monotonic()
            if left_s <= 0:
                raise self._late()
            wait_s = left_s if wait_s is None else min(wait_s, left_s)
        sock = getattr(connection, "sock", None)
        if isinstance(sock, socket.socket):
            sock.settimeout(wait_s)
        elif download.deadline is not None and self._timer is None:
            self._timer = threading.Timer(download.deadline - time.monotonic(), self._shut)
            self._timer.daemon = True
            self._timer.start()
        try:
            return raw.read1(_DOWNLOAD_CHUNK)
        except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
            if wait_s != download.read_s:  # the wait was cut short by the deadline
                raise self._late() from None
            raise
        except (urllib3.exceptions.HTTPError, OSError):
            if self._cut_off.is_set():  # the shutdown at the deadline ended the read
                raise self._late() from None
            raise

    def _shut(self) -> None:
        """At the deadline: end the read waiting on a connection that closes after it.
        A body that ended meanwhile has handed its connection back and is left alone;
        the flag is set before the shutdown, so the reader never takes the end the
        shutdown makes for the end of the body."""
        if self._raw.connection is None:
            return
        self._cut_off.set()
        with contextlib.suppress(RuntimeError, ValueError, OSError):
            self._raw.shutdown()  # raises if the body ended after all: nothing to end

    def _late(self) -> WeChatTimeout:
        return _late(self._download, self._parts)


def _late(download: _Download, parts: SplitResult) -> WeChatTimeout:
    return WeChatTimeout(
        None,
        f"the download from {parts.scheme}://{parts.netloc}{parts.path} did not "
        f"finish within {download.limit_s:g}s",
    )


def _decode(res: requests.Response) -> Any:
    """The answer's JSON, or the response itself when it is not JSON (a file)."""
    try:
        return json.loads(res.content.decode("utf-8", "ignore"), strict=False)
    except ValueError:
        return res


def _errcode(result: Any) -> int:
    return int(result.get("errcode") or 0) if isinstance(result, dict) else 0


def _release(lock: Lock) -> None:
    try:
        degradable("unlock the WeChat token refresh", lock.release, None)
    except LockError:
        log.warning("the WeChat token refresh lock expired before the refresh finished")


def build_wechat_client(config: Config, redis_client: redis.Redis) -> AixiangWeChatClient:
    """The client every process uses to call WeChat, configured from ``config.wechat``."""
    return AixiangWeChatClient(
        config.wechat.app_id,
        config.wechat.app_secret,
        api_base_url=config.wechat.api_base_url,
        timeout=config.wechat.http_timeout_s,
        redis_client=redis_client,
        pool_size=config.push.worker_threads,
    )
