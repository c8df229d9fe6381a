"""The simulator's page and JSON API. Every message the page sends takes the real path.

The page never calls the conversation code directly: ``POST /sim/api/send`` builds the
delivery WeChat's servers would send (signed, and AES-encrypted in safe mode), POSTs it
over HTTP to this server's own ``/wechat``, and decodes the passive reply, so what the page
shows is what a resident would get, rejections included.

The page's thread is rebuilt from what is stored, so a reload or a restarted demo shows it
whole, in order, at the simulated times: the resident's messages and the replies from the
database (``inbound_message``), the pushes from the fake WeChat API's call log (kept in a
file by the demo), which is where the account's outbound messages end up. The page polls
with a cursor of stored numbers (the last message's id, the last call's), which a restart
keeps.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import click
import requests
from flask import Blueprint, Flask, Response, current_app, jsonify, request
from sqlalchemy import func, select

from bot.cli.support import parse_local_time
from bot.config.sections import MenuButton
from bot.demo.simulator.clock import SimulatedClock
from bot.demo.templates import TEMPLATES_BY_ID
from bot.webhook_services import WebhookServices
from bot.wechat.payloads import WeChatPayloads, xml_text
from bot.wechat.protocol import Rejection
from models.inbound import InboundMessage
from models.residents import Resident

SIMULATOR_KEY = "aixiang_simulator"
OPENID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_TEXT_CHARS = 2000
MAX_KEY_BYTES = 128
MAX_SCENE_CHARS = 64
MAX_RESIDENTS_LISTED = 200
KINDS = ("text", "voice", "click", "subscribe", "unsubscribe", "scan", "image", "location")
# What WeChat still delivers from someone who unfollowed: following again, by tap or scan.
KINDS_WHEN_UNFOLLOWED = ("subscribe", "scan")
MAX_THREAD_MESSAGES = 300
TEMPLATE_ENDPOINTS = ("message/template/send", "message/subscribe/bizsend")
PUSH_TITLES = {
    "message/custom/send": "客服消息 · Message",
    "message/template/send": "模板消息 · Template message",
    "message/subscribe/bizsend": "订阅通知 · Subscription message",
    "message/mass/send": "群发 · Broadcast",
    "message/mass/sendall": "群发 · Broadcast",
}
SAMPLE_PHOTO = "sim/static/sample-photo.svg"


@dataclass(frozen=True)
class Village:
    name: str
    label: str
    latitude: float
    longitude: float


VILLAGES = (
    Village("小古城村 Xiaogucheng", "浙江省杭州市余杭区径山镇小古城村", 30.3946, 119.8868),
    Village("余村 Yucun", "浙江省湖州市安吉县天荒坪镇余村", 30.5269, 119.6095),
    Village("下姜村 Xiajiang", "浙江省杭州市淳安县枫树岭镇下姜村", 29.6317, 118.9206),
)


@dataclass(frozen=True)
class Simulator:
    """What the page needs besides the app's services: how to play WeChat's servers, and
    where the fake WeChat API keeps its call log."""

    payloads: WeChatPayloads
    fake_api_root: str
    http_timeout_s: float = 10.0


class SimulatorError(Exception):
    """A request the simulator cannot carry out; the message is one line for the page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


blueprint = Blueprint("simulator", __name__, static_folder="static", static_url_path="/sim/static")


def install_simulator(app: Flask, payloads: WeChatPayloads, fake_api_root: str) -> None:
    """Add the page at ``/`` and its API under ``/sim/`` to an app built by create_app.

    The app must be served by a threaded server: a send waits for the same server's
    ``/wechat`` to answer.
    """
    app.extensions[SIMULATOR_KEY] = Simulator(payloads, fake_api_root.rstrip("/"))
    app.register_blueprint(blueprint)


def _simulator() -> Simulator:
    simulator: Simulator = current_app.extensions[SIMULATOR_KEY]
    return simulator


def _services() -> WebhookServices:
    services: WebhookServices = current_app.extensions["aixiang"]
    return services


@blueprint.errorhandler(SimulatorError)
def _refuse(error: SimulatorError) -> tuple[Response, int]:
    return jsonify(error=error.message), error.status


@blueprint.get("/")
def page() -> Response:
    return blueprint.send_static_file("index.html")


@blueprint.get("/sim/api/config")
def page_config() -> Response:
    simulator = _simulator()
    return jsonify(
        account="爱乡共建俱乐部",
        menu=[_button_json(button) for button in _services().config.menu.buttons],
        villages=[{"index": i, "name": v.name, "label": v.label} for i, v in enumerate(VILLAGES)],
        safe_mode_available=bool(simulator.payloads.encoding_aes_key),
    )


def _button_json(button: MenuButton) -> dict[str, Any]:
    return {
        "name": button.name,
        "key": button.key,
        "url": button.url,
        "sub_buttons": [_button_json(sub) for sub in button.sub_buttons],
    }


@blueprint.get("/sim/api/residents")
def residents() -> Response:
    """The newest residents, oldest first, and the one the page has ``selected`` however
    old: a reload that did not find it would silently switch the page to another."""
    selected = request.args.get("selected", "")
    with _services().session_factory() as db:
        rows = list(
            db.execute(
                select(Resident).order_by(Resident.id.desc()).limit(MAX_RESIDENTS_LISTED)
            ).scalars()
        )
        if selected and all(r.openid != selected for r in rows):
            rows.extend(db.execute(select(Resident).where(Resident.openid == selected)).scalars())
        rows.sort(key=lambda r: r.id)
        return jsonify(
            [
                {
                    "openid": r.openid,
                    "name": r.name or "",
                    "subscribed": r.subscribed,
                    "language": r.language or "",
                }
                for r in rows
            ]
        )


@blueprint.post("/sim/api/send")
def send() -> Response:
    """Deliver one message to /wechat as WeChat would, and say what came back."""
    simulator = _simulator()
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise SimulatorError(400, "send a JSON object such as {openid, kind, text}")
    safe = data.get("safe", False)
    if not isinstance(safe, bool):
        raise SimulatorError(400, "safe must be true or false")
    if safe and not simulator.payloads.encoding_aes_key:
        raise SimulatorError(400, "safe mode needs wechat.encoding_aes_key, which is not set")
    openid = _openid(data.get("openid"))
    if data.get("kind") not in KINDS_WHEN_UNFOLLOWED and _has_unfollowed(openid):
        raise SimulatorError(
            409,
            "未关注，消息发不出去 · This resident unfollowed the account: WeChat delivers "
            "nothing from them until they follow again",
        )
    xml = _delivery_xml(simulator.payloads, openid, data)
    delivery = simulator.payloads.sign(xml, safe=safe)
    url = _own_webhook_url()
    try:
        response = requests.post(
            url,
            params=delivery.query,
            data=delivery.body,
            headers={"Content-Type": "text/xml; charset=utf-8"},
            timeout=simulator.http_timeout_s,
        )
    except requests.RequestException as exc:
        raise SimulatorError(
            502, f"could not reach the webhook at {url}: {type(exc).__name__}"
        ) from None
    if response.status_code != 200:
        reason = response.text.strip()[:200] or response.reason
        return jsonify(ok=False, status=response.status_code, reason=reason)
    try:
        fields = simulator.payloads.read_reply(response.content, safe=safe)
    except (Rejection, KeyError) as exc:
        reason = exc.reason if isinstance(exc, Rejection) else f"reply lacks {exc}"
        return jsonify(ok=False, status=200, reason=f"the reply could not be read: {reason}")
    return jsonify(
        ok=True,
        status=200,
        reply=fields.get("Content", ""),
        reply_type=fields.get("MsgType", ""),
    )


@blueprint.get("/sim/api/clock")
def clock_now() -> Response:
    return _clock_json(_clock())


@blueprint.post("/sim/api/clock")
def clock_advance() -> Response:
    """Move the demo's clock forward, e.g. to the moment a reminder falls due: by
    ``hours``, or to the local time ``at`` ("2026-06-01T09:30") in one step."""
    clock = _clock()
    data = request.get_json(silent=True)
    hours = data.get("hours") if isinstance(data, dict) else None
    at = data.get("at") if isinstance(data, dict) else None
    try:
        if isinstance(at, str):
            clock.advance_to(_local_time(at))
        elif isinstance(hours, int | float) and not isinstance(hours, bool):
            clock.advance_hours(hours)
        else:
            raise SimulatorError(
                400, 'send a JSON object such as {"hours": 24} or {"at": "2026-06-01T09:30"}'
            )
    except ValueError as exc:
        raise SimulatorError(400, str(exc)) from None
    return _clock_json(clock)


def _local_time(text: str) -> datetime:
    """A time typed on the page, read in the club's time zone as staff commands read it."""
    try:
        return parse_local_time(text, _services().config.bot.tz, "at")
    except click.UsageError as exc:
        raise SimulatorError(400, exc.format_message()) from None


def _clock() -> SimulatedClock:
    clock = _services().clock
    if not isinstance(clock, SimulatedClock):
        raise SimulatorError(404, "this app's clock cannot be moved (only the demo's can)")
    return clock


def _clock_json(clock: SimulatedClock) -> Response:
    local = clock().astimezone(_services().config.bot.tz)
    return jsonify(
        now=local.strftime("%Y-%m-%d %H:%M"),
        ahead_hours=round(clock.offset.total_seconds() / 3600, 2),
    )


def _own_webhook_url() -> str:
    """This server's /wechat, from the address it listens on (never the Host header)."""
    host = request.environ.get("SERVER_NAME", "127.0.0.1")
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{request.environ['SERVER_PORT']}/wechat"


def _openid(value: Any) -> str:
    if not isinstance(value, str) or not OPENID_PATTERN.fullmatch(value):
        raise SimulatorError(
            400, "openid must be 1-64 letters, digits, '-' or '_', like o-demo-1a2b"
        )
    return value


def _delivery_xml(payloads: WeChatPayloads, openid: str, data: Mapping[str, Any]) -> str:
    kind = data.get("kind")
    if kind == "text":
        return payloads.text(openid, _text(data.get("text")))
    if kind == "voice":
        # WeChat delivers a voice message with its speech recognition's text.
        return payloads.voice(openid, _text(data.get("text")))
    if kind == "click":
        return payloads.event(openid, "CLICK", _menu_key(data.get("key")))
    if kind in ("subscribe", "unsubscribe"):
        return payloads.event(openid, kind)
    if kind == "scan":
        return _scan_xml(payloads, openid, _scene(data.get("scene")))
    if kind == "image":
        media_id = f"demo-media-{secrets.token_hex(6)}"
        return payloads.image(openid, media_id, f"{request.host_url}{SAMPLE_PHOTO}")
    if kind == "location":
        village = _village(data.get("village", 0))
        return payloads.location(openid, village.latitude, village.longitude, village.label)
    raise SimulatorError(400, f"kind must be one of {', '.join(KINDS)}, got {kind!r}")


def _text(value: Any) -> str:
    """The text as WeChat would deliver it: without the control characters it drops."""
    if isinstance(value, str):
        value = xml_text(_well_formed(value, "text"))
    if not isinstance(value, str) or not value.strip():
        raise SimulatorError(400, "text is empty")
    if len(value) > MAX_TEXT_CHARS:
        raise SimulatorError(400, f"text is over {MAX_TEXT_CHARS} characters")
    return value


def _menu_key(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise SimulatorError(400, f"key must be a menu key of 1-{MAX_KEY_BYTES} bytes")
    if len(_well_formed(value, "key").encode()) > MAX_KEY_BYTES:
        raise SimulatorError(400, f"key must be a menu key of 1-{MAX_KEY_BYTES} bytes")
    return value


def _scene(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_SCENE_CHARS:
        raise SimulatorError(400, f"scene must be 1-{MAX_SCENE_CHARS} characters, like checkin:3")
    return _well_formed(value.strip(), "scene")


def _well_formed(value: str, name: str) -> str:
    """Refuse text that no UTF-8 message can carry. JSON's escapes can spell a lone
    surrogate ("\\ud800"), which Python decodes into a str that fails to encode later."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise SimulatorError(
            400, f"{name} is not valid Unicode: it holds a lone surrogate such as \\ud800"
        ) from None
    return value


def _village(value: Any) -> Village:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < len(VILLAGES):
        raise SimulatorError(400, f"village must be a number from 0 to {len(VILLAGES) - 1}")
    return VILLAGES[value]


def _scan_xml(payloads: WeChatPayloads, openid: str, scene: str) -> str:
    """A follower's scan is a SCAN event; anyone else follows by scanning, which WeChat
    reports as a subscribe event whose key is ``qrscene_`` + the scene."""
    ticket = secrets.token_urlsafe(24)
    if _is_following(openid):
        return payloads.raw(openid, "event", {"Event": "SCAN", "EventKey": scene, "Ticket": ticket})
    return payloads.raw(
        openid, "event", {"Event": "subscribe", "EventKey": f"qrscene_{scene}", "Ticket": ticket}
    )


def _is_following(openid: str) -> bool:
    return _subscribed(openid) is True


def _has_unfollowed(openid: str) -> bool:
    """Known and not following; someone not known yet may write (the webhook adds them)."""
    return _subscribed(openid) is False


def _subscribed(openid: str) -> bool | None:
    with _services().session_factory() as db:
        subscribed: bool | None = db.execute(
            select(Resident.subscribed).where(Resident.openid == openid)
        ).scalar_one_or_none()
    return subscribed


@blueprint.get("/sim/api/thread")
def thread() -> Response:
    """The conversation with ``openid`` in order, after the ``since`` cursor of the
    previous answer, or whole (its last messages) without one; ``reset`` says the cursor
    belonged to data since deleted (``aixiang demo --fresh``), so the answer is whole."""
    openid = _openid(request.args.get("openid"))
    last_inbound, last_seq = _cursor(request.args.get("since", ""))
    calls = _fake_calls(since=last_seq)
    with _services().session_factory() as db:
        newest = db.execute(select(func.max(InboundMessage.id))).scalar_one() or 0
        reset = last_inbound > newest or (last_seq > 0 and _log_restarted(last_seq))
        if reset:
            last_inbound, last_seq = 0, 0
            calls = _fake_calls()
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
    items += [_push_item(call) for call in calls if _reached(call, openid)]
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
    return not _fake_calls(since=last_seq - 1)


def _answered_up_to(calls: list[dict[str, Any]], since: int) -> int:
    """The last seq before the first call still being answered: that one may yet turn out
    a delivered push, and a cursor past it would never show it."""
    answered = since
    for call in calls:
        if call.get("status") is None:
            break
        answered = int(call["seq"])
    return answered


def _when(moment: datetime) -> dict[str, Any]:
    """An item's time: ``at`` to order and space the thread, ``time`` to show (local)."""
    local = moment.astimezone(_services().config.bot.tz)
    return {"at": moment.timestamp(), "time": local.strftime("%Y-%m-%d %H:%M")}


def _inbound_items(row: InboundMessage) -> Iterator[dict[str, Any]]:
    """A stored message as the page shows it, then the reply it got."""
    when = _when(row.received_at)
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
    buttons = list(_services().config.menu.buttons)
    for button in buttons:
        buttons.extend(button.sub_buttons)
        if button.key == key:
            return button.name
    return key


def _push_item(call: Mapping[str, Any]) -> dict[str, Any]:
    body = call["body"]
    item = {
        "id": f"call-{call['seq']}",
        **_when(datetime.fromtimestamp(float(call["time"]), UTC)),
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


def _reached(call: Mapping[str, Any], openid: str) -> bool:
    body = call.get("body")
    return (
        call.get("endpoint") in PUSH_TITLES
        and _delivered(call)
        and isinstance(body, dict)
        and _addressed_to(call, body, openid)
    )


def _fake_calls(since: int = 0) -> list[dict[str, Any]]:
    simulator = _simulator()
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
