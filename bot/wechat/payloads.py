"""Plays WeChat's servers: builds signed (and optionally encrypted) webhook deliveries.

The chat simulator, the tests and the benchmark all reach the webhook through this one
module, so every one of them exercises the real signature and AES path.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from bot.wechat.protocol import Cipher, new_nonce, parse_xml, sign

_msg_ids = itertools.count(int(time.time() * 1000) * 1000)
# What XML 1.0 forbids: C0 controls other than tab, LF and CR (a vertical tab pasted from
# Word, NUL), lone surrogates, U+FFFE and U+FFFF. escape() leaves them in.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: str) -> str:
    """``value`` without the characters XML cannot carry. WeChat drops them from what a
    resident types, so a delivery that kept them would be one WeChat never sends (and
    the webhook would rightly refuse it as not XML)."""
    return _NOT_XML.sub("", value)


@dataclass(frozen=True)
class SignedDelivery:
    query: dict[str, str]
    body: bytes


@dataclass
class WeChatPayloads:
    token: str
    app_id: str
    encoding_aes_key: str = ""
    account: str = "gh_aixiang"
    _cipher: Cipher | None = field(default=None, init=False, repr=False)

    def _xml(
        self, openid: str, msg_type: str, fields: Mapping[str, str | int], create_time: int | None
    ) -> str:
        parts = [
            f"<ToUserName><![CDATA[{self.account}]]></ToUserName>",
            f"<FromUserName><![CDATA[{openid}]]></FromUserName>",
            f"<CreateTime>{create_time or int(time.time())}</CreateTime>",
            f"<MsgType><![CDATA[{msg_type}]]></MsgType>",
        ]
        for name, value in fields.items():
            if isinstance(value, int):
                parts.append(f"<{name}>{value}</{name}>")
            else:
                parts.append(f"<{name}>{escape(xml_text(value))}</{name}>")
        return "<xml>" + "".join(parts) + "</xml>"

    def text(
        self, openid: str, content: str, msg_id: int | None = None, create_time: int | None = None
    ) -> str:
        return self._xml(
            openid, "text", {"Content": content, "MsgId": msg_id or next(_msg_ids)}, create_time
        )

    def voice(self, openid: str, recognition: str, media_id: str = "voice-media") -> str:
        return self._xml(
            openid,
            "voice",
            {
                "MediaId": media_id,
                "Format": "amr",
                "Recognition": recognition,
                "MsgId": next(_msg_ids),
            },
            None,
        )

    def image(self, openid: str, media_id: str, pic_url: str) -> str:
        return self._xml(
            openid, "image", {"PicUrl": pic_url, "MediaId": media_id, "MsgId": next(_msg_ids)}, None
        )

    def location(self, openid: str, latitude: float, longitude: float, label: str) -> str:
        return self._xml(
            openid,
            "location",
            {
                "Location_X": str(latitude),
                "Location_Y": str(longitude),
                "Scale": "15",
                "Label": label,
                "MsgId": next(_msg_ids),
            },
            None,
        )

    def event(self, openid: str, event: str, key: str = "", create_time: int | None = None) -> str:
        fields: dict[str, str | int] = {"Event": event}
        if key:
            fields["EventKey"] = key
        return self._xml(openid, "event", fields, create_time)

    def raw(self, openid: str, msg_type: str, fields: Mapping[str, str | int]) -> str:
        return self._xml(openid, msg_type, fields, None)

    def cipher(self) -> Cipher:
        if self._cipher is None:
            self._cipher = Cipher(self.token, self.encoding_aes_key, self.app_id)
        return self._cipher

    def sign(
        self,
        xml: str | bytes,
        safe: bool = False,
        timestamp: int | None = None,
        nonce: str | None = None,
    ) -> SignedDelivery:
        """The query string and body WeChat would POST for ``xml``."""
        ts = str(timestamp if timestamp is not None else int(time.time()))
        nonce = nonce or new_nonce()
        query = {
            "timestamp": ts,
            "nonce": nonce,
            "signature": sign(self.token, ts, nonce),
            "openid": "simulated",
        }
        body = xml.encode() if isinstance(xml, str) else xml
        if safe:
            envelope = self.cipher().encrypt_reply(body.decode(), nonce, ts)
            encrypted = parse_xml(envelope.encode())["Encrypt"]
            query["encrypt_type"] = "aes"
            query["msg_signature"] = sign(self.token, ts, nonce, encrypted)
            body = (
                f"<xml><ToUserName><![CDATA[{self.account}]]></ToUserName>"
                f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
            ).encode()
        return SignedDelivery(query=query, body=body)

    def read_reply(self, body: bytes, safe: bool = False) -> dict[str, str]:
        """The fields of a passive reply; {} for WeChat's "success" (no reply)."""
        if body in (b"", b"success"):
            return {}
        fields = parse_xml(body)
        if safe:
            fields = parse_xml(self.cipher().decrypt(fields["Encrypt"]))
        return fields
