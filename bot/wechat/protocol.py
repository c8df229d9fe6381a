"""WeChat's inbound protocol: signatures, freshness, safe XML, AES, and passive replies.

wechatpy provides the AES cipher; the checks around it are done here because wechatpy
compares signatures with ``!=`` (timing leak), never checks a timestamp's freshness,
parses XML with entity expansion, and lets ExpatError, ValueError, KeyError and
AttributeError escape on bad input. Every failure here is a :class:`Rejection` carrying
the HTTP status and a reason to log (never the body). The passive reply is a template.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import secrets
import struct
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException

from handlers.message import Location, Message, MessageType
from models.inbound import DEDUPE_KEY_MAX, EVENT_MAX, MSG_TYPE_MAX
from models.residents import OPENID_MAX

MAX_BODY_BYTES = 64 * 1024
REQUIRED_FIELDS = ("ToUserName", "FromUserName", "CreateTime", "MsgType")
# What the stored row has room for; WeChat's own values are far shorter.
FIELD_MAX_CHARS = {"FromUserName": OPENID_MAX, "MsgType": MSG_TYPE_MAX, "Event": EVENT_MAX}
# The last second a datetime can hold (9999-12-31 23:59:59 UTC).
MAX_CREATE_TIME = 253402300799
# MsgId is stored as a signed 64-bit integer.
MAX_MSG_ID = 2**63 - 1


class Rejection(Exception):
    """An inbound request that must not be processed; ``status`` is the HTTP answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def sign(token: str, *parts: str) -> str:
    """WeChat's SHA1 over the sorted token, timestamp, nonce (and ciphertext)."""
    return hashlib.sha1("".join(sorted((token, *parts))).encode()).hexdigest()


def check_signature(expected_parts: tuple[str, ...], token: str, given: str, what: str) -> None:
    if not given or not hmac.compare_digest(sign(token, *expected_parts), given):
        raise Rejection(403, f"bad {what}")


def check_fresh(timestamp: str, now: float, tolerance_s: int) -> None:
    """Refuse a timestamp outside the tolerance; 0 turns the check off for bad clocks."""
    sent = _whole_number(timestamp)
    if sent is None:
        raise Rejection(403, "timestamp is not a number")
    if tolerance_s and abs(now - sent) > tolerance_s:
        raise Rejection(403, f"timestamp {abs(now - sent):.0f}s from now")


def parse_xml(body: bytes) -> dict[str, str]:
    """The flat ``<xml>`` element WeChat sends, as a dict; no DOCTYPE, no entities."""
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise Rejection(400, "XML with a DOCTYPE or entities") from None
    except (ParseError, ValueError):
        raise Rejection(400, "body is not XML") from None
    except LookupError:
        raise Rejection(400, "XML in an unknown encoding") from None
    if root.tag != "xml":
        # Cut: the tag comes from the body, which is never logged whole.
        raise Rejection(400, f"root element is <{root.tag[:40]}>, not <xml>")
    return {child.tag: _field_value(child) for child in root}


def _field_value(element: Element) -> str:
    """A field's text; a nested field (e.g. SubscribeMsgPopupEvent's List items) as JSON."""
    if len(element) == 0:
        return (element.text or "").strip()
    items = [{leaf.tag: (leaf.text or "").strip() for leaf in item} for item in element]
    return json.dumps(items, ensure_ascii=False)


def require_fields(fields: Mapping[str, str]) -> None:
    """Refuse, before anything is stored, a message whose fields could not be stored."""
    missing = [name for name in REQUIRED_FIELDS if not fields.get(name)]
    if missing:
        raise Rejection(400, f"message lacks {', '.join(missing)}")
    create_time = _whole_number(fields["CreateTime"])
    if create_time is None or create_time > MAX_CREATE_TIME:
        raise Rejection(400, "CreateTime is not a time")
    if fields.get("MsgId"):
        msg_id = _whole_number(fields["MsgId"])
        if msg_id is None or msg_id > MAX_MSG_ID:
            raise Rejection(400, "MsgId is not a 64-bit number")
    for name, limit in FIELD_MAX_CHARS.items():
        if len(fields.get(name, "")) > limit:
            raise Rejection(400, f"{name} is longer than {limit} characters")


def _whole_number(text: str) -> int | None:
    """``text`` as a non-negative integer if it is one in ASCII digits (``int`` would also
    take signs, spaces, underscores and other scripts' digits), of at most 19 digits."""
    if not (0 < len(text) <= 19 and text.isascii() and text.isdigit()):
        return None
    return int(text)


class Cipher:
    """AES for safe and compatible mode, keyed by the account's EncodingAESKey."""

    def __init__(self, token: str, encoding_aes_key: str, app_id: str) -> None:
        self._token = token
        self._app_id = app_id
        self._crypto = WeChatCrypto(token, encoding_aes_key, app_id)
        self._prp = PrpCrypto(self._crypto.key)

    def decrypt(self, encrypted: str) -> bytes:
        try:
            return self._prp.decrypt(encrypted, self._app_id).encode()
        except InvalidAppIdException:
            raise Rejection(400, "encrypted for another app id") from None
        except (
            ValueError,
            TypeError,
            IndexError,
            struct.error,
            binascii.Error,
            UnicodeDecodeError,
        ):
            raise Rejection(400, "body does not decrypt") from None

    def encrypt_reply(self, xml: str, nonce: str, timestamp: str) -> str:
        return str(self._crypto.encrypt_message(xml, nonce, timestamp))


def to_message(fields: Mapping[str, str]) -> Message:
    """WeChat's fields as the plain Message the handlers read."""
    msg_type = fields["MsgType"].lower()
    text = fields.get("Content", "")
    if msg_type == MessageType.VOICE:
        text = fields.get("Recognition", "")
    location = None
    if msg_type == MessageType.LOCATION:
        location = _location(fields)
    return Message(
        openid=fields["FromUserName"],
        type=msg_type,
        created_at=datetime.fromtimestamp(int(fields["CreateTime"]), UTC),
        text=text if msg_type in (MessageType.TEXT, MessageType.VOICE) else "",
        event=fields.get("Event", "").lower() if msg_type == MessageType.EVENT else "",
        event_key=fields.get("EventKey", ""),
        media_id=fields.get("MediaId", ""),
        pic_url=fields.get("PicUrl", ""),
        location=location,
        raw=dict(fields),
    )


def _location(fields: Mapping[str, str]) -> Location:
    try:
        return Location(
            latitude=float(fields["Location_X"]),
            longitude=float(fields["Location_Y"]),
            label=fields.get("Label", ""),
        )
    except (KeyError, ValueError):
        raise Rejection(400, "location message without coordinates") from None


def dedupe_key(fields: Mapping[str, str]) -> str:
    """One key per logical delivery, identical on WeChat's re-sends of it. An event key
    too long for the column (a menu link's URL) is kept as its SHA-256, still the same on
    every re-send."""
    if fields.get("MsgId"):
        return f"msg:{fields['MsgId']}"
    key = ":".join(
        (
            "evt",
            fields["FromUserName"],
            fields["CreateTime"],
            fields.get("Event", "").lower(),
            fields.get("EventKey", ""),
        )
    )
    if len(key) <= DEDUPE_KEY_MAX:
        return key
    return f"evt:sha256:{hashlib.sha256(key.encode()).hexdigest()}"


# wechatpy's TextReply.render, byte for byte (a test holds them together), written out:
# its fields and descriptors cost each delivery more than the rest of the reply.
_TEXT_REPLY = (
    "<xml>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[{content}]]></Content>\n"
    "<FromUserName><![CDATA[{source}]]></FromUserName>\n"
    "<ToUserName><![CDATA[{target}]]></ToUserName>\n<CreateTime>{time}</CreateTime>\n</xml>"
)


def render_text_reply(fields: Mapping[str, str], text: str, now: float | None = None) -> str:
    """A passive text reply to the message ``fields`` came from."""
    return _TEXT_REPLY.format(
        source=fields["ToUserName"],
        target=fields["FromUserName"],
        time=int(now if now is not None else time.time()),
        # A literal ]]> would end the CDATA section early.
        content=text.replace("]]>", "]]]]><![CDATA[>"),
    )


def new_nonce() -> str:
    return secrets.token_hex(8)
