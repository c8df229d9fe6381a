"""What the fake answers: JSON with WeChat's errcodes and texts, a picture, or plain text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


def error(errcode: int) -> Reply:
    return Reply({"errcode": errcode, "errmsg": ERRMSGS.get(errcode, "fault injected")})


OK = Reply({"errcode": 0, "errmsg": "ok"})
