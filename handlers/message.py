"""Plain message and reply objects: what a handler receives and returns.

They carry no WeChat or HTTP types, so a conversation can be tested as a transcript
without a server; bot/ translates WeChat's XML into a Message and a Reply into XML.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class MessageType(StrEnum):
    """What a resident sent (``Message.type``), as WeChat's MsgType names it."""

    TEXT = "text"
    IMAGE = "image"
    VOICE = "voice"
    LOCATION = "location"
    EVENT = "event"


# Menu taps, follows and QR scans: WeChat counts them apart from typed messages.
TAP_EVENTS = frozenset({"subscribe", "click", "scan", "view"})
# WeChat's speech recognition ends what it heard with a full stop ("我的活动。").
VOICE_END_PUNCTUATION = "。.！!？?，,"


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    label: str = ""


@dataclass(frozen=True)
class Message:
    openid: str
    type: str
    created_at: datetime
    text: str = ""
    event: str = ""
    event_key: str = ""
    media_id: str = ""
    pic_url: str = ""
    location: Location | None = None
    raw: Mapping[str, str] = field(default_factory=dict)

    @property
    def words(self) -> str:
        """What the resident said: the text they typed, or the words WeChat recognised in
        a voice message, without the full stop recognition ends with; empty for anything
        else. Many residents speak rather than type, so answers and keywords accept both."""
        if self.type == MessageType.TEXT:
            return self.text
        if self.type == MessageType.VOICE:
            return self.text.strip().rstrip(VOICE_END_PUNCTUATION)
        return ""

    @property
    def is_tap(self) -> bool:
        return self.type == MessageType.EVENT and self.event in TAP_EVENTS


@dataclass(frozen=True)
class Reply:
    """``erases_message``: the resident asked us to erase what they said, so the message
    that asked is stored without its words, like those the erasure already blanked (the
    webhook stores a message after its handler has run)."""

    text: str
    erases_message: bool = False
