"""QR codes: a ticket created, and its picture shown."""

from __future__ import annotations

import secrets
from typing import Any

from bot.wechat.fake_api.images import qr_png
from bot.wechat.fake_api.messages import one_of
from bot.wechat.fake_api.replies import Binary, Reply, error
from bot.wechat.fake_api.state import FakeWeChat

QR_ACTIONS = frozenset({"QR_SCENE", "QR_STR_SCENE", "QR_LIMIT_SCENE", "QR_LIMIT_STR_SCENE"})
QR_MAX_EXPIRE_S = 2_592_000


def qrcode_create(fake: FakeWeChat, query: dict[str, str], body: Any) -> Reply:
    if not isinstance(body, dict):
        return error(44002)
    action = body.get("action_name")
    if not one_of(action, QR_ACTIONS):
        return error(47001)
    ticket = secrets.token_urlsafe(32)
    url = f"http://weixin.qq.com/q/{ticket[:22]}"
    with fake.lock:
        fake.tickets[ticket] = url
    if action.startswith("QR_LIMIT"):
        return Reply({"ticket": ticket, "url": url})
    expire_s = body.get("expire_seconds", 60)
    if isinstance(expire_s, bool) or not isinstance(expire_s, int):
        return error(47001)
    return Reply({"ticket": ticket, "expire_seconds": min(expire_s, QR_MAX_EXPIRE_S), "url": url})


def showqrcode(fake: FakeWeChat, query: dict[str, str], body: Any) -> Reply:
    with fake.lock:
        url = fake.tickets.get(query.get("ticket", ""))
    if url is None:
        return Reply("fake WeChat: unknown ticket", 404)
    return Reply(Binary(qr_png(url), "image/png"))
