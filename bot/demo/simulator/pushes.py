"""The pushes in the thread: read from the fake WeChat API's call log, shown as a phone
would show them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import requests

from bot.demo.simulator.context import SimulatorError, current_services, current_simulator
from bot.demo.templates import TEMPLATES_BY_ID

TEMPLATE_ENDPOINTS = ("message/template/send", "message/subscribe/bizsend")
PUSH_TITLES = {
    "message/custom/send": "客服消息 · Message",
    "message/template/send": "模板消息 · Template message",
    "message/subscribe/bizsend": "订阅通知 · Subscription message",
    "message/mass/send": "群发 · Broadcast",
    "message/mass/sendall": "群发 · Broadcast",
}


def shown_at(moment: datetime) -> dict[str, Any]:
    """An item's time: ``at`` to order and space the thread, ``time`` to show (local)."""
    local = moment.astimezone(current_services().config.bot.tz)
    return {"at": moment.timestamp(), "time": local.strftime("%Y-%m-%d %H:%M")}


def push_item(call: Mapping[str, Any]) -> dict[str, Any]:
    body = call["body"]
    item = {
        "id": f"call-{call['seq']}",
        **shown_at(datetime.fromtimestamp(float(call["time"]), UTC)),
        "who": "bot",
        "kind": "text",
        "endpoint": call["endpoint"],
        "label": PUSH_TITLES[call["endpoint"]],
        "text": push_text(body),
    }
    if call["endpoint"] in TEMPLATE_ENDPOINTS:
        template = TEMPLATES_BY_ID.get(str(body.get("template_id")))
        labels = {name: label for name, label, _ in template.fields} if template else {}
        item |= {
            "kind": "card",
            "title": template.title if template else PUSH_TITLES[call["endpoint"]],
            "fields": [
                {"label": labels.get(name, name), "value": _field_value(value)}
                for name, value in body.get("data", {}).items()
            ],
        }
    return item


def _field_value(value: Any) -> str:
    return str(value.get("value", "")) if isinstance(value, dict) else str(value)


def reached(call: Mapping[str, Any], openid: str) -> bool:
    body = call.get("body")
    return (
        call.get("endpoint") in PUSH_TITLES
        and _delivered(call)
        and isinstance(body, dict)
        and _addressed_to(call, body, openid)
    )


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


def _delivered(call: Mapping[str, Any]) -> bool:
    result = call.get("result")
    return call.get("status") == 200 and isinstance(result, dict) and not result.get("errcode")


def _addressed_to(call: Mapping[str, Any], body: Mapping[str, Any], openid: str) -> bool:
    """Whether a delivered push reached ``openid``; for a mass send, the fake API's call
    log says who it reached (a tag's members as they were when it was sent)."""
    if call["endpoint"] in ("message/mass/sendall", "message/mass/send"):
        target = body.get("filter") or {}
        return target.get("is_to_all") is True or openid in call.get("recipients", [])
    return body.get("touser") == openid


def push_text(body: Mapping[str, Any]) -> str:
    """What a phone would show of a pushed message, as plain text."""
    if isinstance(body.get("data"), dict):
        lines = [
            str(item.get("value", "")) if isinstance(item, dict) else str(item)
            for item in body["data"].values()
        ]
        return "\n".join(line for line in lines if line)
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
