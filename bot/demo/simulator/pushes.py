"""The pushes in the thread: read from the fake WeChat API's call log, shown as a phone
would show them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import requests

from bot.demo.simulator.context import SimulatorError, current_services, current_simulator
from bot.demo.templates import TEMPLATES_BY_ID
from bot.wechat.fake_api.pushes import SeenPush, push_seen_by
from models.push.vocabulary import Channel

PUSH_TITLES = {
    Channel.CUSTOM: "客服消息 · Message",
    Channel.TEMPLATE: "模板消息 · Template message",
    Channel.SUBSCRIBE: "订阅通知 · Subscription message",
    Channel.MASS: "群发 · Broadcast",
}


def shown_at(moment: datetime) -> dict[str, Any]:
    """An item's time: ``at`` to order and space the thread, ``time`` to show (local)."""
    local = moment.astimezone(current_services().config.bot.tz)
    return {"at": moment.timestamp(), "time": local.strftime("%Y-%m-%d %H:%M")}


def push_items(calls: list[dict[str, Any]], openid: str) -> list[dict[str, Any]]:
    """The pushes the calls delivered to ``openid``, as the page shows them."""
    items = []
    for call in calls:
        seen = push_seen_by(call, openid)
        if seen is not None:
            items.append(_push_item(call, seen))
    return items


def _push_item(call: Mapping[str, Any], seen: SeenPush) -> dict[str, Any]:
    item = {
        "id": f"call-{call['seq']}",
        **shown_at(datetime.fromtimestamp(float(call["time"]), UTC)),
        "who": "bot",
        "kind": "text",
        "endpoint": call["endpoint"],
        "label": PUSH_TITLES[seen.channel],
        "text": seen.text,
    }
    if seen.template_id is not None:
        template = TEMPLATES_BY_ID.get(seen.template_id)
        labels = {name: label for name, label, _ in template.fields} if template else {}
        item |= {
            "kind": "card",
            "title": template.title if template else PUSH_TITLES[seen.channel],
            "fields": [
                {"label": labels.get(name, name), "value": value} for name, value in seen.fields
            ],
        }
    return item


def fake_calls(since: int = 0) -> list[dict[str, Any]]:
    simulator = current_simulator()
    params = {"since": since}
    url = f"{simulator.fake_api_root}/_fake/calls"
    try:
        response = requests.get(url, params=params, timeout=simulator.http_timeout_s)
        response.raise_for_status()
        calls = response.json()
    except (requests.RequestException, ValueError):
        raise SimulatorError(
            502, f"the fake WeChat API at {simulator.fake_api_root} is not answering"
        ) from None
    if not isinstance(calls, list):
        raise SimulatorError(502, f"{url} did not answer with a list of calls")
    return [call for call in calls if isinstance(call, dict)]
