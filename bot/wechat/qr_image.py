"""A permanent QR code's image, fetched in two calls (the ticket, then showqrcode): the
path the CLI's ``events qr`` and the console's check-in code both take."""

from __future__ import annotations

import redis
from wechatpy.exceptions import WeChatClientException

from bot.config.sections import Config
from bot.wechat.api import WeChatAPI
from bot.wechat.client import build_wechat_client


class QRImageUnavailable(Exception):
    """WeChat refused the QR code or its image, or did not answer; one line saying which."""


def permanent_qr_png(config: Config, redis_client: redis.Redis, scene: str) -> bytes:
    """Ask WeChat for a permanent QR code carrying ``scene`` and download its PNG."""
    client = build_wechat_client(config, redis_client)
    api = WeChatAPI(client)
    try:
        try:
            ticket = api.qrcode.create_permanent(scene)
        except WeChatClientException as exc:
            raise QRImageUnavailable(f"WeChat refused the QR code: {_one_line(exc)}") from None
        if not ticket:
            raise QRImageUnavailable("WeChat created no QR code ticket")
        try:
            return api.qrcode.image(ticket)
        except WeChatClientException as exc:
            raise QRImageUnavailable(
                f"could not download the QR code image: {_one_line(exc)}"
            ) from None
    finally:
        client.close()


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())
