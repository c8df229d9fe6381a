"""Each call answered: recorded, a scheduled fault applied, else routed to its endpoint."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bot.wechat.fake_api import media, menus, messages, qrcodes, tags, tokens
from bot.wechat.fake_api.replies import Reply, error
from bot.wechat.fake_api.state import FakeWeChat

# Endpoints WeChat serves without an access_token.
OPEN_ENDPOINTS = frozenset({"token", "stable_token", "showqrcode"})
HANDLERS: dict[str, Callable[[FakeWeChat, dict[str, str], Any], Reply]] = {
    "token": tokens.token,
    "stable_token": tokens.stable_token,
    "message/custom/send": messages.custom_send,
    "message/template/send": messages.template_send,
    "message/subscribe/bizsend": messages.subscribe_send,
    "message/mass/sendall": messages.mass_sendall,
    "message/mass/send": messages.mass_send,
    "tags/create": tags.tags_create,
    "tags/get": tags.tags_get,
    "tags/delete": tags.tags_delete,
    "tags/members/batchtagging": tags.tags_batchtagging,
    "tags/members/batchuntagging": tags.tags_batchuntagging,
    "user/tag/get": tags.user_tag_get,
    "qrcode/create": qrcodes.qrcode_create,
    "showqrcode": qrcodes.showqrcode,
    "menu/create": menus.menu_create,
    "menu/get": menus.menu_get,
    "user/info": tags.user_info,
    "media/get": media.media_get,
}


def answer(
    fake: FakeWeChat, endpoint: str, method: str, query: dict[str, str], raw_body: bytes
) -> Reply:
    """Record the call when it arrives, apply a scheduled fault, else answer as WeChat."""
    body, malformed = _parse_body(raw_body)
    record = fake.log.record(endpoint, method, query, body)
    try:
        reply = _reply(fake, endpoint, query, body, malformed)
    except Exception:
        # A bug in the fake: the log still says the call ended, and how.
        fake.log.finish(record, Reply("fake WeChat: the fake failed on this call", 500))
        raise
    fake.log.finish(record, reply)
    return reply


def _reply(
    fake: FakeWeChat, endpoint: str, query: dict[str, str], body: Any, malformed: bool
) -> Reply:
    """A scheduled fault's answer, after its delay, else WeChat's."""
    fault = fake.schedule.take(endpoint)
    if fault is not None and fault.delay_s > 0:
        fake.schedule.wait(fault)
    if fault is not None and fault.http_status is not None:
        reply = Reply(f"fake WeChat: injected HTTP {fault.http_status}", fault.http_status)
    elif fault is not None and fault.errcode is not None:
        reply = error(fault.errcode)
    elif fault is not None and fault.not_json is not None:
        reply = Reply(fault.not_json)
    elif malformed:
        reply = error(47001)
    else:
        reply = _dispatch(fake, endpoint, query, body)
    return reply


def _dispatch(fake: FakeWeChat, endpoint: str, query: dict[str, str], body: Any) -> Reply:
    handler = HANDLERS.get(endpoint)
    if handler is None:
        return Reply({"errcode": -1, "errmsg": f"the fake has no endpoint {endpoint}"}, 404)
    if endpoint not in OPEN_ENDPOINTS:
        errcode = tokens.check_token(fake, query.get("access_token"))
        if errcode:
            return error(errcode)
    return handler(fake, query, body)


def _parse_body(raw: bytes) -> tuple[Any, bool]:
    """The JSON body, or (the raw text, True) when it is not JSON, so the log still shows it.
    JSON nested deeper than Python's recursion limit is not JSON the fake can read either."""
    if not raw:
        return None, False
    try:
        return json.loads(raw), False
    except (ValueError, RecursionError):
        return raw.decode("utf-8", "replace"), True
