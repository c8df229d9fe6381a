"""Messages: customer-service, template and subscription sends, and mass sends."""

from __future__ import annotations

import time
from typing import Any, TypeGuard

from bot.wechat.fake_api.replies import OK, Reply, error
from bot.wechat.fake_api.state import FakeWeChat

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
# WeChat drops a mass request whose clientmsgid it took within the last day.
CLIENTMSGID_TTL_S = 86_400


def custom_send(fake: FakeWeChat, query: dict[str, str], body: Any) -> Reply:
    if not isinstance(body, dict):
        return error(44002)
    if not isinstance(body.get("touser"), str) or not body["touser"]:
        return error(40003)
    if not one_of(body.get("msgtype"), CUSTOM_MSGTYPES):
        return error(40008)
    return OK


def template_send(fake: FakeWeChat, query: dict[str, str], body: Any) -> Reply:
    refused = _template_refusal(body)
    if refused:
        return refused
    return Reply({"errcode": 0, "errmsg": "ok", "msgid": fake.new_id()})


def subscribe_send(fake: FakeWeChat, query: dict[str, str], body: Any) -> Reply:
    return _template_refusal(body) or OK


def mass_sendall(fake: FakeWeChat, query: dict[str, str], body: Any) -> Reply:
    """To every follower, or to a tag's members as they are now; the call log's
    ``recipients`` says who a tag send reached."""
    if not isinstance(body, dict):
        return error(44002)
    target = body.get("filter")
    if not isinstance(target, dict):
        return error(47001)
    if target.get("is_to_all") is True:
        return _mass_accepted(fake, body, None)
    # WeChat still reads the tag from the older name group_id, which wechatpy sends.
    tag_id = target.get("tag_id", target.get("group_id"))
    with fake.lock:
        if not isinstance(tag_id, int) or tag_id not in fake.tags:
            return error(45159)
        members = fake.members(tag_id)
    return _mass_accepted(fake, body, members)


def mass_send(fake: FakeWeChat, query: dict[str, str], body: Any) -> Reply:
    if not isinstance(body, dict):
        return error(44002)
    users = body.get("touser")
    if not isinstance(users, list) or not all(isinstance(u, str) and u for u in users):
        return error(40003)
    if not 2 <= len(users) <= 10_000:
        return error(40130)
    return _mass_accepted(fake, body, sorted(set(users)))


def _mass_accepted(fake: FakeWeChat, body: dict[str, Any], recipients: list[str] | None) -> Reply:
    """A mass-send job, unless its clientmsgid was taken within a day: then 45065 with
    the earlier job's msg_id, and nobody gets it again."""
    if not one_of(body.get("msgtype"), MASS_MSGTYPES):
        return error(40008)
    clientmsgid = body.get("clientmsgid")
    now = time.time()
    with fake.lock:
        earlier = fake.clientmsgids.get(clientmsgid) if isinstance(clientmsgid, str) else None
        if earlier is not None and earlier[1] > now - CLIENTMSGID_TTL_S:
            return Reply({**error(45065).summary(), "msg_id": earlier[0]})
        fake.next_id += 1
        msg_id = fake.next_id
        if isinstance(clientmsgid, str):
            fake.clientmsgids[clientmsgid] = (msg_id, now)
    return Reply(
        {
            "errcode": 0,
            "errmsg": "send job submission success",
            "msg_id": msg_id,
            "msg_data_id": msg_id,
        },
        recorded=None if recipients is None else {"recipients": recipients},
    )


def one_of(value: Any, choices: frozenset[str]) -> TypeGuard[str]:
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
