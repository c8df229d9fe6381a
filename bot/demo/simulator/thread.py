"""``GET /sim/api/thread``: the conversation rebuilt from what is stored, after a cursor."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from flask import Response, jsonify, request
from sqlalchemy import func, select

from bot.demo.simulator.context import SimulatorError, current_services
from bot.demo.simulator.deliveries import openid_of
from bot.demo.simulator.pushes import fake_calls, push_items, shown_at
from models.inbound import InboundMessage
from models.residents import Resident

MAX_THREAD_MESSAGES = 300


def thread() -> Response:
    """The conversation with ``openid`` in order, after the ``since`` cursor of the
    previous answer, or whole (its last messages) without one; ``reset`` says the cursor
    belonged to data since deleted (``aixiang demo --fresh``), so the answer is whole."""
    openid = openid_of(request.args.get("openid"))
    last_inbound, last_seq = _cursor(request.args.get("since", ""))
    calls = fake_calls(since=last_seq)
    with current_services().session_factory() as db:
        newest = db.execute(select(func.max(InboundMessage.id))).scalar_one() or 0
        reset = last_inbound > newest or (last_seq > 0 and _log_restarted(last_seq))
        if reset:
            last_inbound, last_seq = 0, 0
            calls = fake_calls()
        rows = list(
            db.execute(
                select(InboundMessage)
                .join(Resident, Resident.id == InboundMessage.resident_id)
                .where(Resident.openid == openid, InboundMessage.id > last_inbound)
                .order_by(InboundMessage.id.desc())
                .limit(MAX_THREAD_MESSAGES)
            ).scalars()
        )
    rows.reverse()
    items = [item for row in rows for item in _inbound_items(row)]
    items += push_items(calls, openid)
    items.sort(key=lambda item: item["at"])
    cursor = f"{max([last_inbound, *(row.id for row in rows)])}.{_answered_up_to(calls, last_seq)}"
    return jsonify(items=items, cursor=cursor, reset=reset)


def _cursor(since: str) -> tuple[int, int]:
    """``<last message id>.<last call seq>``, as the previous answer gave it."""
    if not since:
        return 0, 0
    inbound, _, seq = since.partition(".")
    if not (inbound.isdecimal() and seq.isdecimal()):
        raise SimulatorError(400, "since must be the cursor of the previous answer")
    return int(inbound), int(seq)


def _log_restarted(last_seq: int) -> bool:
    """Whether the call log no longer reaches ``last_seq``: it was deleted since."""
    return not fake_calls(since=last_seq - 1)


def _answered_up_to(calls: list[dict[str, Any]], since: int) -> int:
    """The last seq before the first call still being answered: that one may yet turn out
    a delivered push, and a cursor past it would never show it."""
    answered = since
    for call in calls:
        if call.get("status") is None:
            break
        answered = int(call["seq"])
    return answered


def _inbound_items(row: InboundMessage) -> Iterator[dict[str, Any]]:
    """A stored message as the page shows it, then the reply it got."""
    when = shown_at(row.received_at)
    base = {"id": f"in-{row.id}", **when}
    if row.msg_type in ("text", "voice"):
        yield {**base, "who": "me", "kind": row.msg_type, "text": row.content or ""}
    elif row.msg_type == "image":
        yield {**base, "who": "me", "kind": "image", "text": ""}
    elif row.msg_type == "location":
        label = _stored_fields(row).get("Label", "")
        yield {**base, "who": "me", "kind": "location", "title": "位置 Location", "text": label}
    elif row.msg_type == "event":
        yield {**base, "who": "system", "kind": "note", "text": _event_note(row)}
    if row.reply:
        yield {"id": f"re-{row.id}", **when, "who": "bot", "kind": "text", "text": row.reply}


def _stored_fields(row: InboundMessage) -> dict[str, Any]:
    try:
        fields = json.loads(row.content or "{}")
    except ValueError:
        return {}
    return fields if isinstance(fields, dict) else {}


def _event_note(row: InboundMessage) -> str:
    key = row.event_key or ""
    if row.event == "subscribe" and key.startswith("qrscene_"):
        return f"扫码关注 Scanned to follow · {key.removeprefix('qrscene_')}"
    if row.event == "SCAN":
        return f"扫描二维码 Scanned QR · {key}"
    if row.event == "CLICK":
        return f"点击菜单 Tapped “{_menu_name(key)}”"
    return {
        "subscribe": "你关注了公众号 You followed the account",
        "unsubscribe": "你取消了关注 You unfollowed the account",
    }.get(row.event or "", f"[{row.event}]")


def _menu_name(key: str) -> str:
    buttons = list(current_services().config.menu.buttons)
    for button in buttons:
        buttons.extend(button.sub_buttons)
        if button.key == key:
            return button.name
    return key
