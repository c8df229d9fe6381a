"""What the fake API's call log says of pushes: which recorded calls were pushes that
reached a resident, by which channel, and what a phone would show of each.

The demo's chat simulator shows the pushes in a resident's thread from the call log
through this module, so that WeChat's JSON bodies (``touser``, ``msgtype``, a mass send's
``filter``, a template's ``data``) stay known in bot/wechat/ only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.wechat.api import Mass, Messages
from models.push.vocabulary import Channel

# The endpoints that carry a push to residents, by the channel each is.
PUSH_CHANNELS = {
    Messages.CUSTOM: Channel.CUSTOM,
    Messages.TEMPLATE: Channel.TEMPLATE,
    Messages.SUBSCRIPTION: Channel.SUBSCRIBE,
    Mass.TO_GROUP: Channel.MASS,
    Mass.TO_OPENIDS: Channel.MASS,
}


@dataclass(frozen=True)
class SeenPush:
    """A delivered push as its reader sees it: ``text`` as plain lines; a template or
    subscription notice also has its template id and its fields, in the body's order."""

    channel: Channel
    text: str
    template_id: str | None = None
    fields: tuple[tuple[str, str], ...] = ()


def push_seen_by(call: Mapping[str, Any], openid: str) -> SeenPush | None:
    """The push a recorded call delivered to ``openid``; None when the call was not a
    push, was refused, or went to someone else."""
    channel = PUSH_CHANNELS.get(str(call.get("endpoint")))
    body = call.get("body")
    if channel is None or not isinstance(body, dict) or not _delivered(call):
        return None
    if not _addressed_to(channel, call, body, openid):
        return None
    data = body.get("data")
    if isinstance(data, dict):
        fields = tuple((str(name), _field_value(value)) for name, value in data.items())
        text = "\n".join(value for _, value in fields if value)
        return SeenPush(channel, text, str(body.get("template_id")), fields)
    return SeenPush(channel, _message_text(body))


def _delivered(call: Mapping[str, Any]) -> bool:
    result = call.get("result")
    return call.get("status") == 200 and isinstance(result, dict) and not result.get("errcode")


def _addressed_to(
    channel: Channel, call: Mapping[str, Any], body: Mapping[str, Any], openid: str
) -> bool:
    """Whether a delivered push reached ``openid``; for a mass send, the fake API's call
    log says who it reached (a tag's members as they were when it was sent)."""
    if channel == Channel.MASS:
        target = body.get("filter") or {}
        return target.get("is_to_all") is True or openid in call.get("recipients", [])
    return body.get("touser") == openid


def _field_value(value: Any) -> str:
    return str(value.get("value", "")) if isinstance(value, dict) else str(value)


def _message_text(body: Mapping[str, Any]) -> str:
    """What a phone would show of a customer-service message or a mass send."""
    msgtype = body.get("msgtype", "")
    content = body.get(msgtype)
    if msgtype == "text" and isinstance(content, dict):
        return str(content.get("content", ""))
    if msgtype == "news" and isinstance(content, dict):
        return "\n".join(
            str(article.get("title", ""))
            for article in content.get("articles", [])
            if isinstance(article, dict)
        )
    return f"[{msgtype or 'message'}]"
