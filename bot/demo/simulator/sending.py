"""``POST /sim/api/send``: one message delivered to this server's own /wechat as WeChat
would, and the passive reply read back."""

from __future__ import annotations

import requests
from flask import Response, jsonify, request

from bot.demo.simulator.context import SimulatorError, current_simulator
from bot.demo.simulator.deliveries import (
    KINDS_WHEN_UNFOLLOWED,
    delivery_xml,
    has_unfollowed,
    openid_of,
)
from bot.wechat.protocol import Rejection


def send() -> Response:
    """Deliver one message to /wechat as WeChat would, and say what came back."""
    simulator = current_simulator()
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise SimulatorError(400, "send a JSON object such as {openid, kind, text}")
    safe = data.get("safe", False)
    if not isinstance(safe, bool):
        raise SimulatorError(400, "safe must be true or false")
    if safe and not simulator.payloads.encoding_aes_key:
        raise SimulatorError(400, "safe mode needs wechat.encoding_aes_key, which is not set")
    openid = openid_of(data.get("openid"))
    if data.get("kind") not in KINDS_WHEN_UNFOLLOWED and has_unfollowed(openid):
        raise SimulatorError(
            409,
            "未关注，消息发不出去 · This resident unfollowed the account: WeChat delivers "
            "nothing from them until they follow again",
        )
    xml = delivery_xml(simulator.payloads, openid, data)
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
