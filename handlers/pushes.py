"""Pushes seen from the conversation: subscription-notice consents and held notices.

When no WeChat channel may carry a push (the 48-hour window is shut and no template or
subscription notice applies), it waits for the resident's next message and rides along
with the passive reply; this module words that addition.
"""

from __future__ import annotations

import json

from handlers.context import Context
from handlers.message import Message
from handlers.router import Router
from models.push.consents import record_consents


def on_subscription_popup(message: Message, ctx: Context) -> None:
    """Record each template the resident allowed in WeChat's subscription pop-up.

    wechatpy 1.8.18 does not know this event; bot/ hands over its List items as JSON.
    """
    raw = message.raw.get("SubscribeMsgPopupEvent", "[]")
    try:
        items = json.loads(raw)
    except json.JSONDecodeError:
        items = []
    accepted = [
        str(item["TemplateId"])
        for item in items
        if isinstance(item, dict)
        and item.get("SubscribeStatusString") == "accept"
        and item.get("TemplateId")
    ]
    record_consents(ctx.db, ctx.contact.resident_id, accepted, ctx.now)


def with_held_notices(reply: str, notices: list[str], ctx: Context) -> str:
    """The passive reply with the held notices appended after it."""
    if not notices:
        return reply
    items = "\n".join(f"{i}. {text}" for i, text in enumerate(notices, start=1))
    addition = ctx.t("held_notices", count=len(notices), items=items)
    return f"{reply}\n\n{addition}" if reply else addition


def register(router: Router) -> None:
    router.add_event(("subscribe_msg_popup_event",), on_subscription_popup)
