"""The one way out to WeChat's API, safe to share between threads and processes.

WeChat rations access tokens, and its plain ``token`` endpoint invalidates the previous
token on every call, so every process must use the same one. Here the token lives in Redis;
one process at a time fetches it, under a Redis lock (bot/wechat/token.py), through
``stable_token`` (which hands back the token already issued instead of replacing it);
every call has a timeout (bot/wechat/transport.py); and a rejected token means one
refresh, one retry, then an error that keeps WeChat's errcode (wechatpy's own client
retries without bound). When Redis is down each process keeps its own token and carries
on. Only public APIs of wechatpy, requests, urllib3 and pycurl are used: the client is
its own class, not a subclass of wechatpy's.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

import redis
import requests
import urllib3
from urllib3.exceptions import NewConnectionError
from wechatpy.client.api import WeChatMedia, WeChatMenu, WeChatMessage, WeChatTag

from bot.config.sections import Config
from bot.wechat.download import Download
from bot.wechat.errors import (
    Refusal,
    WeChatAPIError,
    WeChatTimeout,
    WeChatTokenRejected,
    WeChatTransportError,
    refusal,
)
from bot.wechat.token import TOKEN_MARGIN_S, TOKEN_REUSE_S, SharedStorage, refresh_lock
from bot.wechat.transport import (
    DEFAULT_POOL_SIZE,
    DIRECT_HEADERS,
    DIRECT_KWARGS,
    CallFailed,
    WeChatSession,
    overall_s,
    urllib3_timeout,
)

log = logging.getLogger(__name__)
# The endpoints that answer a file rather than JSON (a photo a resident sent, a QR code).
DOWNLOAD_ENDPOINTS = ("/media/get", "/showqrcode")


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
        self._http = WeChatSession(pool_size)
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
        with refresh_lock(self._refresh_guard, self._redis, self.appid, self._lock_timeout_s):
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
        except CallFailed as exc:
            if exc.timed_out:
                raise WeChatTimeout(
                    None, f"no answer from {url} within {kwargs.get('timeout')}s", client=self
                ) from exc
            raise WeChatTransportError(
                None, f"could not reach {url}: curl error {exc.code}", client=self
            ) from exc
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
        """The call through :meth:`WeChatSession.direct` when it carries only a query, a
        body and a timeout, as every JSON API call does; through requests otherwise."""
        params = kwargs.get("params")
        data = kwargs.get("data")
        payload = kwargs.get("json")
        if (
            kwargs.keys() - DIRECT_KWARGS
            or not isinstance(params, dict | None)
            or not isinstance(data, bytes | None)
            or (data is not None and payload is not None)
        ):
            return self._http.request(method=method, url=url, **kwargs)
        headers = dict(DIRECT_HEADERS)
        if payload is not None:
            data = json.dumps(payload, allow_nan=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if params:
            query = urlencode([(k, v) for k, v in params.items() if v is not None], doseq=True)
            url = f"{url}{'&' if '?' in url else '?'}{query}"
        max_bytes = kwargs.get("max_bytes")
        download = None
        timeout = urllib3_timeout(kwargs.get("timeout"))
        limit_s = overall_s(kwargs.get("timeout"))
        if max_bytes is not None:
            deadline = None if limit_s is None else time.monotonic() + limit_s
            download = Download(max_bytes, limit_s, deadline, timeout.read_timeout)
        return self._http.direct(method, url, data, headers, timeout, limit_s, download)

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


def _decode(res: requests.Response) -> Any:
    """The answer's JSON, or the response itself when it is not JSON (a file)."""
    try:
        return json.loads(res.content.decode("utf-8", "ignore"), strict=False)
    except ValueError:
        return res


def _errcode(result: Any) -> int:
    return int(result.get("errcode") or 0) if isinstance(result, dict) else 0


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
