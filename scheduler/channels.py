"""Which WeChat channel may carry a push to a resident right now, and in what order to try.

Order of preference: a customer-service message inside the resident's allowance (free
text, arrives as a chat message); a template message on a service account; a
subscription notice where the resident accepted one; otherwise the push is held and goes
out with the resident's next passive reply, or expires at its validity end.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.config import PushTemplate

CUSTOM = "custom"
TEMPLATE = "template"
SUBSCRIBE = "subscribe"
REPLY = "reply"


@dataclass(frozen=True)
class Push:
    """What a channel needs to send one outbox row."""

    openid: str
    kind: str
    text: str
    fields: Mapping[str, Any]


def render_template_data(template: PushTemplate, push: Push) -> dict[str, dict[str, str]]:
    """WeChat's ``data`` object: each configured field formatted from the push's values.

    A field naming a value the push does not carry is a configuration mistake; the
    KeyError says which, and the row is dead-lettered with that reason.
    """
    values = {"text": push.text, **push.fields}
    return {name: {"value": pattern.format(**values)} for name, pattern in template.fields}


def custom_message(push: Push) -> dict[str, Any]:
    return {"touser": push.openid, "msgtype": "text", "text": {"content": push.text}}


def template_message(template: PushTemplate, push: Push) -> dict[str, Any]:
    body: dict[str, Any] = {
        "touser": push.openid,
        "template_id": template.template_id,
        "data": render_template_data(template, push),
    }
    if template.url:
        body["url"] = template.url
    return body


def subscription_notice(template: PushTemplate, push: Push) -> dict[str, Any]:
    body: dict[str, Any] = {
        "touser": push.openid,
        "template_id": template.template_id,
        "data": render_template_data(template, push),
    }
    if template.url:
        body["page"] = template.url
    return body
