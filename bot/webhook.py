"""The `/wechat` endpoint: verify, decode, dedupe, hand over, render the passive reply.

It never calls WeChat's API: pushes become outbox rows that the worker delivers, so the
answer stays well inside WeChat's 5-second deadline.
"""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Response, current_app, request

from bot import inbound
from bot.webhook_services import WebhookServices
from bot.wechat.protocol import (
    MAX_BODY_BYTES,
    Cipher,
    Rejection,
    check_fresh,
    check_signature,
    dedupe_key,
    parse_xml,
    render_text_reply,
    require_fields,
    to_message,
)

log = logging.getLogger(__name__)

blueprint = Blueprint("wechat", __name__)

# WeChat treats "success" (or an empty body) as "no reply, and do not retry".
NO_REPLY = "success"


def _services() -> WebhookServices:
    services: WebhookServices = current_app.extensions["aixiang"]
    return services


@blueprint.errorhandler(Rejection)
def _reject(rejection: Rejection) -> Response:
    log.warning(
        "rejected %s /wechat from %s: %s", request.method, request.remote_addr, rejection.reason
    )
    return Response(rejection.reason, status=rejection.status, mimetype="text/plain")


@blueprint.get("/wechat")
def verify_url() -> Response:
    """WeChat's server-address check when an operator saves the webhook URL."""
    wechat = _services().config.wechat
    args = request.args
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    check_signature((timestamp, nonce), wechat.token, args.get("signature", ""), "signature")
    check_fresh(timestamp, time.time(), wechat.timestamp_tolerance_s)
    return Response(args.get("echostr", ""), mimetype="text/plain")


@blueprint.post("/wechat")
def receive() -> Response:
    services = _services()
    wechat = services.config.wechat
    args = request.args
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    body = _read_body()
    safe_mode = args.get("encrypt_type", "raw").lower() == "aes"
    if not safe_mode:
        check_signature((timestamp, nonce), wechat.token, args.get("signature", ""), "signature")
    check_fresh(timestamp, time.time(), wechat.timestamp_tolerance_s)
    envelope = parse_xml(body)
    cipher = _cipher(services) if safe_mode else None
    if cipher is not None:
        encrypted = envelope.get("Encrypt", "")
        if not encrypted:
            raise Rejection(400, "safe-mode message without Encrypt")
        check_signature(
            (timestamp, nonce, encrypted),
            wechat.token,
            args.get("msg_signature", ""),
            "msg_signature",
        )
        fields = parse_xml(cipher.decrypt(encrypted))
    else:
        fields = envelope
    require_fields(fields)
    key = dedupe_key(fields)
    look = services.guard.first_look(
        timestamp, nonce, key, services.sessions.key(fields["FromUserName"])
    )
    if look.pair_reused:
        raise Rejection(403, "timestamp and nonce reused with a different message")
    delivery = inbound.Delivery(fields=fields, message=to_message(fields), key=key)
    reply_text = inbound.process(services, delivery, look)
    if not reply_text:
        return Response(NO_REPLY, mimetype="text/plain")
    xml = render_text_reply(fields, reply_text)
    if cipher is not None:
        xml = cipher.encrypt_reply(xml, nonce, timestamp)
    return Response(xml, mimetype="application/xml")


def _read_body() -> bytes:
    declared = request.content_length
    if declared is not None and declared > MAX_BODY_BYTES:
        raise Rejection(413, f"body of {declared} bytes is over {MAX_BODY_BYTES}")
    body = request.stream.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise Rejection(413, f"body is over {MAX_BODY_BYTES} bytes")
    return body


def _cipher(services: WebhookServices) -> Cipher:
    wechat = services.config.wechat
    if not wechat.encoding_aes_key:
        raise Rejection(400, "safe-mode message but wechat.encoding_aes_key is not set")
    return Cipher(wechat.token, wechat.encoding_aes_key, wechat.app_id)
