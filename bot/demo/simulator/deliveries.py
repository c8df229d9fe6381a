"""A resident's action on the page as the delivery WeChat's servers would send, each
field checked as WeChat would take it."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import request
from sqlalchemy import select

from bot.demo.simulator.context import SimulatorError, current_services
from bot.wechat.payloads import WeChatPayloads, xml_text
from models.residents import Resident

OPENID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_TEXT_CHARS = 2000
MAX_KEY_BYTES = 128
MAX_SCENE_CHARS = 64
KINDS = ("text", "voice", "click", "subscribe", "unsubscribe", "scan", "image", "location")
# What WeChat still delivers from someone who unfollowed: following again, by tap or scan.
KINDS_WHEN_UNFOLLOWED = ("subscribe", "scan")
SAMPLE_PHOTO = "sim/static/sample-photo.svg"


@dataclass(frozen=True)
class Village:
    name: str
    label: str
    latitude: float
    longitude: float


VILLAGES = (
    Village("小古城村 Xiaogucheng", "浙江省杭州市余杭区径山镇小古城村", 30.3946, 119.8868),
    Village("余村 Yucun", "浙江省湖州市安吉县天荒坪镇余村", 30.5269, 119.6095),
    Village("下姜村 Xiajiang", "浙江省杭州市淳安县枫树岭镇下姜村", 29.6317, 118.9206),
)


def openid_of(value: Any) -> str:
    if not isinstance(value, str) or not OPENID_PATTERN.fullmatch(value):
        raise SimulatorError(
            400, "openid must be 1-64 letters, digits, '-' or '_', like o-demo-1a2b"
        )
    return value


def delivery_xml(payloads: WeChatPayloads, openid: str, data: Mapping[str, Any]) -> str:
    kind = data.get("kind")
    if kind == "text":
        return payloads.text(openid, _text(data.get("text")))
    if kind == "voice":
        # WeChat delivers a voice message with its speech recognition's text.
        return payloads.voice(openid, _text(data.get("text")))
    if kind == "click":
        return payloads.event(openid, "CLICK", _menu_key(data.get("key")))
    if kind in ("subscribe", "unsubscribe"):
        return payloads.event(openid, kind)
    if kind == "scan":
        return _scan_xml(payloads, openid, _scene(data.get("scene")))
    if kind == "image":
        media_id = f"demo-media-{secrets.token_hex(6)}"
        return payloads.image(openid, media_id, f"{request.host_url}{SAMPLE_PHOTO}")
    if kind == "location":
        village = _village(data.get("village", 0))
        return payloads.location(openid, village.latitude, village.longitude, village.label)
    raise SimulatorError(400, f"kind must be one of {', '.join(KINDS)}, got {kind!r}")


def _text(value: Any) -> str:
    """The text as WeChat would deliver it: without the control characters it drops."""
    if isinstance(value, str):
        value = xml_text(_well_formed(value, "text"))
    if not isinstance(value, str) or not value.strip():
        raise SimulatorError(400, "text is empty")
    if len(value) > MAX_TEXT_CHARS:
        raise SimulatorError(400, f"text is over {MAX_TEXT_CHARS} characters")
    return value


def _menu_key(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise SimulatorError(400, f"key must be a menu key of 1-{MAX_KEY_BYTES} bytes")
    if len(_well_formed(value, "key").encode()) > MAX_KEY_BYTES:
        raise SimulatorError(400, f"key must be a menu key of 1-{MAX_KEY_BYTES} bytes")
    return value


def _scene(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_SCENE_CHARS:
        raise SimulatorError(400, f"scene must be 1-{MAX_SCENE_CHARS} characters, like checkin:3")
    return _well_formed(value.strip(), "scene")


def _well_formed(value: str, name: str) -> str:
    """Refuse text that no UTF-8 message can carry. JSON's escapes can spell a lone
    surrogate ("\\ud800"), which Python decodes into a str that fails to encode later."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise SimulatorError(
            400, f"{name} is not valid Unicode: it holds a lone surrogate such as \\ud800"
        ) from None
    return value


def _village(value: Any) -> Village:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < len(VILLAGES):
        raise SimulatorError(400, f"village must be a number from 0 to {len(VILLAGES) - 1}")
    return VILLAGES[value]


def _scan_xml(payloads: WeChatPayloads, openid: str, scene: str) -> str:
    """A follower's scan is a SCAN event; anyone else follows by scanning, which WeChat
    reports as a subscribe event whose key is ``qrscene_`` + the scene."""
    ticket = secrets.token_urlsafe(24)
    if _is_following(openid):
        return payloads.raw(openid, "event", {"Event": "SCAN", "EventKey": scene, "Ticket": ticket})
    return payloads.raw(
        openid, "event", {"Event": "subscribe", "EventKey": f"qrscene_{scene}", "Ticket": ticket}
    )


def _is_following(openid: str) -> bool:
    return _subscribed(openid) is True


def has_unfollowed(openid: str) -> bool:
    """Known and not following; someone not known yet may write (the webhook adds them)."""
    return _subscribed(openid) is False


def _subscribed(openid: str) -> bool | None:
    with current_services().session_factory() as db:
        subscribed: bool | None = db.execute(
            select(Resident.subscribed).where(Resident.openid == openid)
        ).scalar_one_or_none()
    return subscribed
