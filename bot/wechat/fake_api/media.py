"""Media downloads: any plausible media id answers a picture."""

from __future__ import annotations

from typing import Any

from bot.wechat.fake_api.images import qr_png
from bot.wechat.fake_api.replies import Binary, Reply, error
from bot.wechat.fake_api.state import FakeWeChat

# WeChat's media ids are about 64 characters; a far longer one is no id at all (and would
# not fit in the QR code the fake draws for it).
MAX_MEDIA_ID = 256


def media_get(fake: FakeWeChat, query: dict[str, str], body: Any) -> Reply:
    if not 0 < len(query.get("media_id", "")) <= MAX_MEDIA_ID:
        return error(40007)
    return Reply(Binary(qr_png(f"media:{query['media_id']}"), "image/png"))
