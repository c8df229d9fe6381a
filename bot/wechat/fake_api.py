"""A fake of WeChat's Official Account API, served over real HTTP.

Tests, the local demo and the benchmarks talk to this instead of api.weixin.qq.com, so the
project's one WeChat client is exercised through its real HTTP stack (timeouts, JSON,
token handling) without a network or an account. It imitates the behaviour the project
relies on rather than all of WeChat: tokens that expire and replace each other, errcodes
with WeChat's texts, and the endpoints the bot calls.

Every call is recorded in memory and failures can be scheduled, both over HTTP under
``/_fake/``, so a test, a benchmark or the demo's chat page in another process can watch
and disturb it. The hot path is a few dictionary operations under one lock: no disk,
unless a ``call_log`` file is given (the demo's, so its chat page still shows the pushes
after a restart), where each answered call is appended as a line of JSON.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
import struct
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Any, TypeGuard

import qrcode
from flask import Flask, Response, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

log = logging.getLogger(__name__)

FAKE_APP_ID = "wxfakeapp0000001"
FAKE_APP_SECRET = "fake-app-secret"

API_PREFIX = "/cgi-bin/"
TOKEN_TTL_S = 7200
# WeChat hands out a new stable token in the last five minutes of the old one's life.
STABLE_RENEW_WINDOW_S = 300

ERRMSGS: dict[int, str] = {
    -1: "system error",
    0: "ok",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40007: "invalid media_id",
    40008: "invalid message type",
    40013: "invalid appid",
    40016: "invalid button size",
    40017: "invalid button type",
    40018: "invalid button name size",
    40019: "invalid button key size",
    40023: "invalid sub button size",
    40032: "invalid openid list size",
    40037: "invalid template_id",
    40048: "invalid url size",
    40125: "invalid appsecret",
    40130: "invalid openid list size, at least two openid",
    41001: "access_token missing",
    42001: "access_token expired",
    43004: "require subscribe",
    44002: "empty post data",
    45009: "reach max api daily quota limit",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    45056: "too many tags now",
    45058: "can't modify sys tag",
    45059: "too many tag now, no need to add new",
    45065: "clientmsgid exist",
    45157: "invalid tag name",
    45158: "tag name too long",
    45159: "invalid tag id",
    46003: "menu no exist",
    47001: "data format error",
    49003: "not match openid with appid",
}

# Endpoints WeChat serves without an access_token.
OPEN_ENDPOINTS = frozenset({"token", "stable_token", "showqrcode"})
CUSTOM_MSGTYPES = frozenset(
    {
        "text",
        "image",
        "voice",
        "video",
        "music",
        "news",
        "mpnews",
        "mpnewsarticle",
        "msgmenu",
        "wxcard",
        "miniprogrampage",
    }
)
MASS_MSGTYPES = frozenset({"text", "image", "voice", "mpvideo", "mpnews", "wxcard"})
QR_ACTIONS = frozenset({"QR_SCENE", "QR_STR_SCENE", "QR_LIMIT_SCENE", "QR_LIMIT_STR_SCENE"})
QR_MAX_EXPIRE_S = 2_592_000
MAX_TAGS = 100
MAX_TAGS_PER_USER = 20
TAGGING_MAX = 50
# Tags 0-2 are WeChat's own (blacklist, starred); they cannot be deleted.
SYSTEM_TAG_IDS = frozenset({0, 1, 2})
USER_TAG_PAGE = 10_000
# WeChat drops a mass request whose clientmsgid it took within the last day.
CLIENTMSGID_TTL_S = 86_400
MENU_TOP_NAME_BYTES = 16
MENU_SUB_NAME_BYTES = 60
# WeChat's media ids are about 64 characters; a far longer one is no id at all (and would
# not fit in the QR code the fake draws for it).
MAX_MEDIA_ID = 256
# One request may add at most this much to the call log; a bigger body is refused (413).
MAX_BODY_BYTES = 1024 * 1024
# A delay fault stands for a slow WeChat: a minute is already far past any client timeout,
# and a longer one could not be waited on at all (1e10 s overflows the wait).
MAX_DELAY_S = 60.0
# How often a background server checks for stop(); short, so test teardown is quick.
STOP_POLL_INTERVAL_S = 0.05


@dataclass(frozen=True)
class Binary:
    """A non-JSON answer, such as an image."""

    content: bytes
    content_type: str


@dataclass(frozen=True)
class Reply:
    """What the fake answers: a JSON document, an image, or (for HTTP faults) plain text.
    ``recorded`` adds facts to the call log that WeChat does not answer with, such as who
    a mass send reached."""

    payload: dict[str, Any] | Binary | str
    status: int = 200
    recorded: dict[str, Any] | None = None

    def summary(self) -> Any:
        """The answer as the call log shows it: images by type and size, not bytes."""
        if isinstance(self.payload, Binary):
            return {"content_type": self.payload.content_type, "bytes": len(self.payload.content)}
        return self.payload


@dataclass
class Fault:
    """A scheduled misbehaviour of one endpoint for its next ``times`` calls (None: until
    cleared): a delay, then an HTTP status, a WeChat errcode or a page that is not JSON
    (``not_json``, with HTTP 200, as a gateway in front of WeChat may answer) instead of
    the real answer."""

    endpoint: str
    errcode: int | None = None
    delay_s: float = 0.0
    http_status: int | None = None
    times: int | None = 1
    not_json: str | None = None

    @classmethod
    def from_json(cls, data: Any) -> Fault:
        """Read a fault sent to ``POST /_fake/faults``; ValueError says what is wrong."""
        if not isinstance(data, dict):
            raise ValueError("a fault is a JSON object")
        unknown = set(data) - {"endpoint", "errcode", "delay_s", "http_status", "times", "not_json"}
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        endpoint = data.get("endpoint")
        if not isinstance(endpoint, str) or not endpoint:
            raise ValueError("endpoint is required, e.g. 'message/custom/send'")
        fault = cls(
            endpoint=endpoint.strip("/"),
            errcode=_optional_int(data, "errcode"),
            delay_s=_delay(data),
            http_status=_optional_int(data, "http_status"),
            times=_optional_int(data, "times") if "times" in data else 1,
            not_json=_optional_text(data, "not_json"),
        )
        fault.validate()
        return fault

    def validate(self) -> None:
        coded = self.errcode is not None or self.http_status is not None
        if self.not_json is not None and coded:
            raise ValueError("not_json is an answer of its own: no errcode or http_status")
        if not coded and self.not_json is None and self.delay_s <= 0:
            raise ValueError("a fault needs errcode, http_status, not_json or a positive delay_s")
        if not 0 <= self.delay_s <= MAX_DELAY_S:
            raise ValueError(f"delay_s must be a number of seconds from 0 to {MAX_DELAY_S:g}")
        if self.http_status is not None and not 400 <= self.http_status <= 599:
            raise ValueError("http_status must be an error status (400-599)")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be at least 1, or null for every call until cleared")


def _delay(data: dict[str, Any]) -> float:
    """``delay_s`` as a finite number of seconds: not text, not NaN or infinity (which JSON
    cannot even carry back in /_fake/faults); its range is checked with the rest."""
    value = data.get("delay_s")
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"delay_s must be a number of seconds from 0 to {MAX_DELAY_S:g}")
    return float(value)


def _optional_int(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key} must be a whole number")
    return value


def _optional_text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{key} must be text")
    return value


def error(errcode: int) -> Reply:
    return Reply({"errcode": errcode, "errmsg": ERRMSGS.get(errcode, "fault injected")})


OK = Reply({"errcode": 0, "errmsg": "ok"})


class FakeWeChat:
    """The fake's state and behaviour, independent of HTTP so that it stays easy to read."""

    def __init__(
        self,
        app_id: str,
        app_secret: str,
        call_log: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``clock`` stamps the recorded calls (the demo's runs ahead of real time);
        ``call_log`` keeps them in a file, and the calls a previous run kept there are
        the first of this one's, numbering carrying on after them."""
        self.app_id = app_id
        self.app_secret = app_secret
        self._lock = threading.Lock()
        self._call_log = call_log
        self._clock = clock
        self._calls: list[dict[str, Any]] = _read_call_log(call_log) if call_log else []
        self._seq = max((call["seq"] for call in self._calls), default=0)
        self._faults: list[Fault] = []
        # A delayed answer waits on this event, so clearing faults or stopping wakes it.
        self._wake = threading.Event()
        self._tokens: dict[str, float] = {}  # every token WeChat knows -> expiry (epoch s)
        self._plain_token: str | None = None
        self._stable_token: str | None = None
        self._tags: dict[int, str] = {}
        self._user_tags: dict[str, set[int]] = {}
        self._clientmsgids: dict[str, tuple[int, float]] = {}  # -> (msg_id, accepted at)
        # user/tag/get's page size; a test may shrink it to see paging.
        self.tag_page_size = USER_TAG_PAGE
        self._menu: dict[str, Any] | None = None
        self._tickets: dict[str, str] = {}
        self._next_id = 1000
        self._started = int(time.time())
        self._handlers: dict[str, Callable[[dict[str, str], Any], Reply]] = {
            "token": self._token,
            "stable_token": self._stable_token_endpoint,
            "message/custom/send": self._custom_send,
            "message/template/send": self._template_send,
            "message/subscribe/bizsend": self._subscribe_send,
            "message/mass/sendall": self._mass_sendall,
            "message/mass/send": self._mass_send,
            "tags/create": self._tags_create,
            "tags/get": self._tags_get,
            "tags/delete": self._tags_delete,
            "tags/members/batchtagging": self._tags_batchtagging,
            "tags/members/batchuntagging": self._tags_batchuntagging,
            "user/tag/get": self._user_tag_get,
            "qrcode/create": self._qrcode_create,
            "showqrcode": self._showqrcode,
            "menu/create": self._menu_create,
            "menu/get": self._menu_get,
            "user/info": self._user_info,
            "media/get": self._media_get,
        }

    # -- the API -------------------------------------------------------------------------

    def answer(self, endpoint: str, method: str, query: dict[str, str], raw_body: bytes) -> Reply:
        """Record the call when it arrives, apply a scheduled fault, else answer as WeChat."""
        body, malformed = _parse_body(raw_body)
        record = self._record(endpoint, method, query, body)
        try:
            reply = self._reply(endpoint, query, body, malformed)
        except Exception:
            # A bug in the fake: the log still says the call ended, and how.
            self._finish(record, Reply("fake WeChat: the fake failed on this call", 500))
            raise
        self._finish(record, reply)
        return reply

    def _reply(self, endpoint: str, query: dict[str, str], body: Any, malformed: bool) -> Reply:
        """A scheduled fault's answer, after its delay, else WeChat's."""
        fault = self._take_fault(endpoint)
        if fault is not None and fault.delay_s > 0:
            with self._lock:
                wake = self._wake
            wake.wait(fault.delay_s)
        if fault is not None and fault.http_status is not None:
            reply = Reply(f"fake WeChat: injected HTTP {fault.http_status}", fault.http_status)
        elif fault is not None and fault.errcode is not None:
            reply = error(fault.errcode)
        elif fault is not None and fault.not_json is not None:
            reply = Reply(fault.not_json)
        elif malformed:
            reply = error(47001)
        else:
            reply = self._dispatch(endpoint, query, body)
        return reply

    def _finish(self, record: dict[str, Any], reply: Reply) -> None:
        with self._lock:
            record["status"] = reply.status
            record["result"] = reply.summary()
            record.update(reply.recorded or {})
            if self._call_log is not None:
                with self._call_log.open("a", encoding="utf-8") as log_file:
                    log_file.write(json.dumps(record, ensure_ascii=False) + "\n")

    def _dispatch(self, endpoint: str, query: dict[str, str], body: Any) -> Reply:
        handler = self._handlers.get(endpoint)
        if handler is None:
            return Reply({"errcode": -1, "errmsg": f"the fake has no endpoint {endpoint}"}, 404)
        if endpoint not in OPEN_ENDPOINTS:
            errcode = self._check_token(query.get("access_token"))
            if errcode:
                return error(errcode)
        return handler(query, body)

    # -- the call log and faults ---------------------------------------------------------

    def _record(
        self, endpoint: str, method: str, query: dict[str, str], body: Any
    ) -> dict[str, Any]:
        with self._lock:
            self._seq += 1
            record = {
                "seq": self._seq,
                "time": self._clock(),
                "endpoint": endpoint,
                "method": method,
                "query": query,
                "body": body,
                "status": None,
                "result": None,
            }
            self._calls.append(record)
        return record

    def calls(self, endpoint: str | None = None, since: int = 0) -> list[dict[str, Any]]:
        """Recorded calls in arrival order, optionally of one endpoint and after seq ``since``
        (so a page that polls can ask only for what is new). A call still being answered
        has ``status`` and ``result`` None."""
        with self._lock:
            return [
                dict(call)
                for call in self._calls
                if call["seq"] > since and (endpoint is None or call["endpoint"] == endpoint)
            ]

    def clear_calls(self) -> int:
        with self._lock:
            count = len(self._calls)
            self._calls = []
            if self._call_log is not None:
                self._call_log.write_text("")
        return count

    def forget_mass_requests(self) -> None:
        """Forget the clientmsgids of accepted mass sends, as a day passing would."""
        with self._lock:
            self._clientmsgids = {}

    def add_fault(self, fault: Fault) -> None:
        fault.validate()
        with self._lock:
            self._faults.append(fault)

    def faults(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(fault) for fault in self._faults]

    def clear_faults(self) -> None:
        """Forget scheduled faults and let answers that are being delayed go now."""
        with self._lock:
            self._faults = []
            self._wake.set()
            self._wake = threading.Event()

    def _take_fault(self, endpoint: str) -> Fault | None:
        if not self._faults:
            return None
        with self._lock:
            for fault in self._faults:
                if fault.endpoint == endpoint:
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times == 0:
                            self._faults.remove(fault)
                    return fault
        return None

    # -- tokens --------------------------------------------------------------------------

    def expire_tokens(self) -> int:
        """Make every token expire now, as if two hours had passed."""
        now = time.time()
        with self._lock:
            for token in self._tokens:
                self._tokens[token] = now
            return len(self._tokens)

    def _check_token(self, token: str | None) -> int:
        if not token:
            return 41001
        with self._lock:
            expires_at = self._tokens.get(token)
        if expires_at is None:
            return 40001
        return 42001 if expires_at <= time.time() else 0

    def _check_credentials(self, grant_type: Any, app_id: Any, secret: Any) -> Reply | None:
        if grant_type != "client_credential":
            return error(40002)
        if app_id != self.app_id:
            return error(40013)
        if secret != self.app_secret:
            return error(40125)
        return None

    def _issue_token(self) -> str:
        token = f"FAKE_{secrets.token_urlsafe(32)}"
        self._tokens[token] = time.time() + TOKEN_TTL_S
        return token

    def _token(self, query: dict[str, str], body: Any) -> Reply:
        """``token``: a new token every call, and the previous one stops working."""
        refused = self._check_credentials(
            query.get("grant_type"), query.get("appid"), query.get("secret")
        )
        if refused:
            return refused
        with self._lock:
            if self._plain_token is not None:
                self._tokens.pop(self._plain_token, None)
            self._plain_token = self._issue_token()
            token = self._plain_token
        return Reply({"access_token": token, "expires_in": TOKEN_TTL_S})

    def _stable_token_endpoint(self, query: dict[str, str], body: Any) -> Reply:
        """``stable_token``: the same token while it has time left; ``force_refresh`` replaces
        it at once. Kept apart from ``token``'s tokens, as WeChat does."""
        if not isinstance(body, dict):
            return error(44002)
        refused = self._check_credentials(
            body.get("grant_type"), body.get("appid"), body.get("secret")
        )
        if refused:
            return refused
        force = body.get("force_refresh") is True
        now = time.time()
        with self._lock:
            current = self._stable_token
            left = self._tokens.get(current, now) - now if current else 0.0
            if force or left <= STABLE_RENEW_WINDOW_S:
                if force and current is not None:
                    self._tokens.pop(current, None)
                current = self._stable_token = self._issue_token()
                left = TOKEN_TTL_S
        return Reply({"access_token": current, "expires_in": int(left)})

    # -- messages ------------------------------------------------------------------------

    def _new_id(self) -> int:
        with self._lock:
            self._next_id += 1
            return self._next_id

    def _custom_send(self, query: dict[str, str], body: Any) -> Reply:
        if not isinstance(body, dict):
            return error(44002)
        if not isinstance(body.get("touser"), str) or not body["touser"]:
            return error(40003)
        if not _one_of(body.get("msgtype"), CUSTOM_MSGTYPES):
            return error(40008)
        return OK

    def _template_send(self, query: dict[str, str], body: Any) -> Reply:
        refused = _template_refusal(body)
        if refused:
            return refused
        return Reply({"errcode": 0, "errmsg": "ok", "msgid": self._new_id()})

    def _subscribe_send(self, query: dict[str, str], body: Any) -> Reply:
        return _template_refusal(body) or OK

    def _mass_sendall(self, query: dict[str, str], body: Any) -> Reply:
        """To every follower, or to a tag's members as they are now; the call log's
        ``recipients`` says who a tag send reached."""
        if not isinstance(body, dict):
            return error(44002)
        target = body.get("filter")
        if not isinstance(target, dict):
            return error(47001)
        if target.get("is_to_all") is True:
            return self._mass_accepted(body, None)
        # WeChat still reads the tag from the older name group_id, which wechatpy sends.
        tag_id = target.get("tag_id", target.get("group_id"))
        with self._lock:
            if not isinstance(tag_id, int) or tag_id not in self._tags:
                return error(45159)
            members = self._members(tag_id)
        return self._mass_accepted(body, members)

    def _mass_send(self, query: dict[str, str], body: Any) -> Reply:
        if not isinstance(body, dict):
            return error(44002)
        users = body.get("touser")
        if not isinstance(users, list) or not all(isinstance(u, str) and u for u in users):
            return error(40003)
        if not 2 <= len(users) <= 10_000:
            return error(40130)
        return self._mass_accepted(body, sorted(set(users)))

    def _mass_accepted(self, body: dict[str, Any], recipients: list[str] | None) -> Reply:
        """A mass-send job, unless its clientmsgid was taken within a day: then 45065 with
        the earlier job's msg_id, and nobody gets it again."""
        if not _one_of(body.get("msgtype"), MASS_MSGTYPES):
            return error(40008)
        clientmsgid = body.get("clientmsgid")
        now = time.time()
        with self._lock:
            earlier = self._clientmsgids.get(clientmsgid) if isinstance(clientmsgid, str) else None
            if earlier is not None and earlier[1] > now - CLIENTMSGID_TTL_S:
                return Reply({**error(45065).summary(), "msg_id": earlier[0]})
            self._next_id += 1
            msg_id = self._next_id
            if isinstance(clientmsgid, str):
                self._clientmsgids[clientmsgid] = (msg_id, now)
        return Reply(
            {
                "errcode": 0,
                "errmsg": "send job submission success",
                "msg_id": msg_id,
                "msg_data_id": msg_id,
            },
            recorded=None if recipients is None else {"recipients": recipients},
        )

    # -- tags and users ------------------------------------------------------------------

    def _tags_create(self, query: dict[str, str], body: Any) -> Reply:
        tag = body.get("tag") if isinstance(body, dict) else None
        name = tag.get("name") if isinstance(tag, dict) else None
        if not isinstance(name, str) or not name.strip():
            return error(45157)
        if len(name.encode()) > 30:
            return error(45158)
        with self._lock:
            if name in self._tags.values():
                return error(45157)
            if len(self._tags) >= MAX_TAGS:
                return error(45056)
            self._next_id += 1
            tag_id = self._next_id
            self._tags[tag_id] = name
        return Reply({"tag": {"id": tag_id, "name": name}})

    def _tags_get(self, query: dict[str, str], body: Any) -> Reply:
        with self._lock:
            tags = [
                {
                    "id": tag_id,
                    "name": name,
                    "count": sum(tag_id in tags for tags in self._user_tags.values()),
                }
                for tag_id, name in self._tags.items()
            ]
        return Reply({"tags": tags})

    def _tags_delete(self, query: dict[str, str], body: Any) -> Reply:
        tag = body.get("tag") if isinstance(body, dict) else None
        tag_id = tag.get("id") if isinstance(tag, dict) else None
        if isinstance(tag_id, int) and tag_id in SYSTEM_TAG_IDS:
            return error(45058)
        with self._lock:
            if not isinstance(tag_id, int) or tag_id not in self._tags:
                return error(45159)
            del self._tags[tag_id]
            for tags in self._user_tags.values():
                tags.discard(tag_id)
        return OK

    def _tags_batchtagging(self, query: dict[str, str], body: Any) -> Reply:
        return self._change_members(body, add=True)

    def _tags_batchuntagging(self, query: dict[str, str], body: Any) -> Reply:
        return self._change_members(body, add=False)

    def _change_members(self, body: Any, add: bool) -> Reply:
        if not isinstance(body, dict):
            return error(44002)
        users = body.get("openid_list")
        if not isinstance(users, list) or not all(isinstance(u, str) and u for u in users):
            return error(40003)
        if not 1 <= len(users) <= TAGGING_MAX:
            return error(40032)
        with self._lock:
            tag_id = body.get("tagid")
            if not isinstance(tag_id, int) or tag_id not in self._tags:
                return error(45159)
            if not add:
                for openid in users:
                    self._user_tags.get(openid, set()).discard(tag_id)
                return OK
            for openid in users:
                tags = self._user_tags.get(openid, set())
                if tag_id not in tags and len(tags) >= MAX_TAGS_PER_USER:
                    return error(45059)
            for openid in users:
                self._user_tags.setdefault(openid, set()).add(tag_id)
        return OK

    def _user_tag_get(self, query: dict[str, str], body: Any) -> Reply:
        """A tag's members in openid order, a page at a time after ``next_openid``."""
        if not isinstance(body, dict):
            return error(44002)
        tag_id = body.get("tagid")
        after = body.get("next_openid") or ""
        if not isinstance(after, str):
            return error(47001)
        with self._lock:
            if not isinstance(tag_id, int) or tag_id not in self._tags:
                return error(45159)
            page = [openid for openid in self._members(tag_id) if openid > after]
            page = page[: self.tag_page_size]
        if not page:
            return Reply({"count": 0, "next_openid": ""})
        return Reply({"count": len(page), "data": {"openid": page}, "next_openid": page[-1]})

    def _members(self, tag_id: int) -> list[str]:
        """Whoever has ``tag_id``, in openid order; the caller holds the lock."""
        return sorted(openid for openid, tags in self._user_tags.items() if tag_id in tags)

    def _user_info(self, query: dict[str, str], body: Any) -> Reply:
        openid = query.get("openid")
        if not openid:
            return error(40003)
        with self._lock:
            tag_ids = sorted(self._user_tags.get(openid, ()))
        return Reply(
            {
                "subscribe": 1,
                "openid": openid,
                "language": query.get("lang", "zh_CN"),
                "subscribe_time": self._started,
                "remark": "",
                "groupid": 0,
                "tagid_list": tag_ids,
                "subscribe_scene": "ADD_SCENE_QR_CODE",
                "qr_scene": 0,
                "qr_scene_str": "",
            }
        )

    # -- QR codes, menus, media ----------------------------------------------------------

    def _qrcode_create(self, query: dict[str, str], body: Any) -> Reply:
        if not isinstance(body, dict):
            return error(44002)
        action = body.get("action_name")
        if not _one_of(action, QR_ACTIONS):
            return error(47001)
        ticket = secrets.token_urlsafe(32)
        url = f"http://weixin.qq.com/q/{ticket[:22]}"
        with self._lock:
            self._tickets[ticket] = url
        if action.startswith("QR_LIMIT"):
            return Reply({"ticket": ticket, "url": url})
        expire_s = body.get("expire_seconds", 60)
        if isinstance(expire_s, bool) or not isinstance(expire_s, int):
            return error(47001)
        return Reply(
            {"ticket": ticket, "expire_seconds": min(expire_s, QR_MAX_EXPIRE_S), "url": url}
        )

    def _showqrcode(self, query: dict[str, str], body: Any) -> Reply:
        with self._lock:
            url = self._tickets.get(query.get("ticket", ""))
        if url is None:
            return Reply("fake WeChat: unknown ticket", 404)
        return Reply(Binary(qr_png(url), "image/png"))

    def _menu_create(self, query: dict[str, str], body: Any) -> Reply:
        if not isinstance(body, dict):
            return error(44002)
        errcode = _menu_errcode(body.get("button"))
        if errcode:
            return error(errcode)
        with self._lock:
            self._menu = {"button": body["button"]}
        return OK

    def _menu_get(self, query: dict[str, str], body: Any) -> Reply:
        with self._lock:
            menu = self._menu
        return error(46003) if menu is None else Reply({"menu": menu})

    def _media_get(self, query: dict[str, str], body: Any) -> Reply:
        if not 0 < len(query.get("media_id", "")) <= MAX_MEDIA_ID:
            return error(40007)
        return Reply(Binary(qr_png(f"media:{query['media_id']}"), "image/png"))


def _read_call_log(path: Path) -> list[dict[str, Any]]:
    """The calls kept in ``path``; a line cut short by a crash is left out."""
    calls = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    for line in lines:
        try:
            call = json.loads(line)
        except ValueError:
            continue
        if isinstance(call, dict) and isinstance(call.get("seq"), int):
            calls.append(call)
    return calls


def _parse_body(raw: bytes) -> tuple[Any, bool]:
    """The JSON body, or (the raw text, True) when it is not JSON, so the log still shows it.
    JSON nested deeper than Python's recursion limit is not JSON the fake can read either."""
    if not raw:
        return None, False
    try:
        return json.loads(raw), False
    except (ValueError, RecursionError):
        return raw.decode("utf-8", "replace"), True


def _one_of(value: Any, choices: frozenset[str]) -> TypeGuard[str]:
    """Whether ``value`` is one of ``choices``; a list or an object, which cannot be looked
    up in a set, is simply not."""
    return isinstance(value, str) and value in choices


def _template_refusal(body: Any) -> Reply | None:
    if not isinstance(body, dict):
        return error(44002)
    if not isinstance(body.get("touser"), str) or not body["touser"]:
        return error(40003)
    if not isinstance(body.get("template_id"), str) or not body["template_id"]:
        return error(40037)
    return None


def _menu_errcode(buttons: Any) -> int:
    """WeChat's checks on a menu: 1-3 buttons, up to 5 below each, names that fit."""
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        return 40016
    for button in buttons:
        if not isinstance(button, dict):
            return 47001
        subs = button.get("sub_button")
        if not subs:
            errcode = _menu_leaf_errcode(button, MENU_TOP_NAME_BYTES)
        elif not isinstance(subs, list) or len(subs) > 5:
            errcode = 40023
        elif not _name_fits(button.get("name"), MENU_TOP_NAME_BYTES):
            errcode = 40018
        else:
            errcode = next(
                (code for sub in subs if (code := _menu_leaf_errcode(sub, MENU_SUB_NAME_BYTES))),
                0,
            )
        if errcode:
            return errcode
    return 0


def _menu_leaf_errcode(button: Any, name_bytes: int) -> int:
    if not isinstance(button, dict):
        return 47001
    if not _name_fits(button.get("name"), name_bytes):
        return 40018
    kind = button.get("type")
    if kind == "click":
        key = button.get("key")
        return 0 if isinstance(key, str) and 0 < len(key.encode()) <= 128 else 40019
    if kind == "view":
        url = button.get("url")
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            return 0 if len(url.encode()) <= 1024 else 40048
        return 40048
    return 40017


def _name_fits(name: Any, limit: int) -> bool:
    return isinstance(name, str) and 0 < len(name.encode()) <= limit


@cache
def qr_png(text: str) -> bytes:
    """A PNG of the QR code for ``text``, encoded here so the fake needs no imaging library."""
    code = qrcode.QRCode(border=4)
    code.add_data(text)
    code.make(fit=True)
    return _grey_png(code.get_matrix(), scale=4)


def _grey_png(dark: list[list[bool]], scale: int) -> bytes:
    rows = bytearray()
    for row in dark:
        line = b"\x00" + bytes(0 if cell else 255 for cell in row for _ in range(scale))
        rows += line * scale
    height, width = len(dark) * scale, len(dark[0]) * scale

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows)))
        + chunk(b"IEND", b"")
    )


def _json(payload: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(payload, ensure_ascii=False), status, content_type="application/json"
    )


def create_fake_app(fake: FakeWeChat) -> Flask:
    """The HTTP face of ``fake``: WeChat's endpoints under /cgi-bin/, controls under /_fake/."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc: RequestEntityTooLarge) -> Response:
        return _json({"errcode": 47001, "errmsg": f"body over {MAX_BODY_BYTES} bytes"}, 413)

    @app.route(f"{API_PREFIX}<path:endpoint>", methods=["GET", "POST"])
    def api(endpoint: str) -> Response:
        reply = fake.answer(endpoint, request.method, request.args.to_dict(), request.get_data())
        if isinstance(reply.payload, Binary):
            return Response(
                reply.payload.content, reply.status, content_type=reply.payload.content_type
            )
        if isinstance(reply.payload, str):
            return Response(reply.payload, reply.status, content_type="text/plain")
        return _json(reply.payload, reply.status)

    @app.get("/_fake/calls")
    def list_calls() -> Response:
        since = request.args.get("since", "0")
        if not since.isdecimal():
            return _json({"error": "since must be a call's seq number"}, 400)
        return _json(fake.calls(request.args.get("endpoint"), int(since)))

    @app.delete("/_fake/calls")
    def clear_calls() -> Response:
        return _json({"cleared": fake.clear_calls()})

    @app.get("/_fake/faults")
    def list_faults() -> Response:
        return _json(fake.faults())

    @app.post("/_fake/faults")
    def add_fault() -> Response:
        try:
            fault = Fault.from_json(request.get_json(silent=True))
        except ValueError as exc:
            return _json({"error": str(exc)}, 400)
        fake.add_fault(fault)
        return _json(asdict(fault), 201)

    @app.delete("/_fake/faults")
    def clear_faults() -> Response:
        fake.clear_faults()
        return _json({"cleared": True})

    @app.post("/_fake/expire_tokens")
    def expire_tokens() -> Response:
        return _json({"expired": fake.expire_tokens()})

    return app


class _QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler without its line per request: at benchmark rates the log line
    costs more than the call. Errors are still logged."""

    protocol_version = "HTTP/1.1"  # keep-alive, as clients pool connections to WeChat

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Say nothing about calls that went fine."""


class FakeWeChatServer:
    """The fake WeChat API on a real port, in a background thread (tests, benchmarks) or in
    the foreground (``aixiang fake-wechat``). ``port=0`` picks a free port."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        app_id: str = FAKE_APP_ID,
        app_secret: str = FAKE_APP_SECRET,
        *,
        call_log: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.host = host
        self.port = port
        self.fake = FakeWeChat(app_id, app_secret, call_log, clock)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def app_id(self) -> str:
        return self.fake.app_id

    @property
    def app_secret(self) -> str:
        return self.fake.app_secret

    @property
    def root_url(self) -> str:
        """Where the server listens, e.g. ``http://127.0.0.1:8081`` (controls are under it)."""
        if self._server is None:
            raise RuntimeError("the fake WeChat server is not running; call start() first")
        return f"http://{self.host}:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        """The value for ``wechat.api_base_url``."""
        return f"{self.root_url}{API_PREFIX}"

    def _bind(self) -> BaseWSGIServer:
        server = make_server(
            self.host,
            self.port,
            create_fake_app(self.fake),
            threaded=True,
            request_handler=_QuietRequestHandler,
        )
        self._server = server
        return server

    def start(self) -> FakeWeChatServer:
        server = self._bind()
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": STOP_POLL_INTERVAL_S},
            name="fake-wechat",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (Ctrl-C) or stopped from another thread."""
        server = self._bind()
        log.info("fake WeChat API at %s (app_id %s)", self.base_url, self.app_id)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            log.info("fake WeChat API stopped")
        finally:
            server.server_close()

    def stop(self) -> None:
        if self._server is None:
            return
        self.fake.clear_faults()
        self._server.shutdown()
        if self._thread is not None:
            self._thread.join()
            self._server.server_close()
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeWeChatServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def calls(self, endpoint: str | None = None, since: int = 0) -> list[dict[str, Any]]:
        return self.fake.calls(endpoint, since)

    def add_fault(
        self,
        endpoint: str,
        *,
        errcode: int | None = None,
        delay_s: float = 0.0,
        http_status: int | None = None,
        times: int | None = 1,
        not_json: str | None = None,
    ) -> None:
        """Make ``endpoint``'s next ``times`` calls (None: all until cleared) misbehave."""
        self.fake.add_fault(Fault(endpoint, errcode, delay_s, http_status, times, not_json))

    def expire_tokens(self) -> int:
        return self.fake.expire_tokens()

    def clear(self) -> None:
        """Forget recorded calls, scheduled faults and the clientmsgids of mass sends;
        tokens, tags and the menu stay."""
        self.fake.clear_calls()
        self.fake.clear_faults()
        self.fake.forget_mass_requests()


def serve_fake_wechat(
    host: str = "127.0.0.1",
    port: int = 8081,
    app_id: str = FAKE_APP_ID,
    app_secret: str = FAKE_APP_SECRET,
) -> None:
    """Run the fake WeChat API in the foreground until Ctrl-C (``aixiang fake-wechat``)."""
    FakeWeChatServer(host, port, app_id, app_secret).serve_forever()
