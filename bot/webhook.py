"""The `/wechat` endpoint: verify, decode, dedupe, hand over, render the passive reply.

It never calls WeChat's API: pushes become outbox rows that the worker delivers, so the
answer stays well inside WeChat's 5-second deadline.

WeChat's deliveries (POST /wechat) are served by ``WebhookEndpoint``, a WSGI layer in
front of the Flask app, on werkzeug's own request and response: Flask's request and app
contexts, URL matching and response finalising were an eighth of a served worker's CPU
per delivery (py-spy under bench/webhook.py), and a delivery needs none of them. The
rest of /wechat (WeChat's URL check, the health check) stays on Flask's blueprint.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import redis
from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from werkzeug import Request, Response
from werkzeug.exceptions import ClientDisconnected, HTTPException

from bot import inbound
from bot.config.sections import WeChatConfig
from bot.outage import WECHAT_WAIT_S, request_deadline
from bot.redis_conn import degradations
from bot.safe_log import log_failure
from bot.spool import SpoolUnavailable
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

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

blueprint = Blueprint("wechat", __name__)

PATH = "/wechat"

# WeChat treats "success" (or an empty body) as "no reply, and do not retry".
NO_REPLY = "success"


def _services() -> WebhookServices:
    services: WebhookServices = current_app.extensions["aixiang"]
    return services


class WebhookEndpoint:
    """WeChat's deliveries (POST /wechat) answered before the Flask app sees them; every
    other request goes on to ``app``."""

    def __init__(self, app: WSGIApplication, services: WebhookServices) -> None:
        self._app = app
        self._services = services

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "POST":
            return self._app(environ, start_response)
        return self.respond(Request(environ))(environ, start_response)

    def respond(self, request: Request) -> Response:
        try:
            return receive(self._services, request)
        except Rejection as rejection:
            log.warning("rejected POST /wechat from %s: %s", request.remote_addr, rejection.reason)
            return Response(rejection.reason, status=rejection.status, mimetype="text/plain")
        except SpoolUnavailable as error:
            # Neither the database nor the spool could take the delivery: say so at once,
            # and WeChat sends it again.
            log_failure(log, "POST /wechat: database and spool both unavailable", error)
            return Response("unavailable", status=503, mimetype="text/plain")
        except HTTPException as error:
            return error.get_response(request.environ)
        except Exception as error:
            # The database down, a bug: one line saying why, never the message, and a 500
            # so that WeChat sends it again.
            log_failure(log, "POST /wechat failed", error)
            return Response("internal error", status=500, mimetype="text/plain")


@blueprint.errorhandler(Rejection)
def _reject(rejection: Rejection) -> Response:
    log.warning(
        "rejected %s /wechat from %s: %s", request.method, request.remote_addr, rejection.reason
    )
    return Response(rejection.reason, status=rejection.status, mimetype="text/plain")


@blueprint.get("/healthz")
def healthz() -> Response:
    """Whether the database and Redis answer now, how many times since the process
    started the webhook went on without Redis, by what it did without it, and how many
    deliveries wait in this host's spool and since when. 503 when the database does not
    answer (messages are then spooled, or fail and WeChat re-sends them); Redis down is
    degraded, not down."""
    services = _services()
    database = _answers(lambda: _select_one(services), SQLAlchemyError)
    cache = _answers(services.redis.ping, redis.RedisError)
    depth = services.spool.depth()
    oldest = depth.oldest
    spool = {
        "depth": depth.records,
        "oldest_age_s": None
        if oldest is None
        else round((services.clock() - oldest).total_seconds(), 3),
    }
    body = jsonify(database=database, redis=cache, degraded=degradations.counts(), spool=spool)
    body.status_code = 200 if database else 503
    return body


def _select_one(services: WebhookServices) -> None:
    with services.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def _answers(check: Callable[[], object], failure: type[Exception]) -> bool:
    try:
        check()
    except failure:
        return False
    return True


@blueprint.get(PATH)
def verify_url() -> Response:
    """WeChat's server-address check when an operator saves the webhook URL."""
    _checked_query(_services().config.wechat, request)
    return Response(request.args.get("echostr", ""), mimetype="text/plain")


def receive(services: WebhookServices, request: Request) -> Response:
    """Answer one delivery; Rejection and SpoolUnavailable say why it was not taken."""
    deadline = request_deadline()
    if deadline.passed():
        # WeChat stopped waiting for this copy and has sent, or will send, another.
        log.warning("dropped a /wechat request that waited over %.0f s to start", WECHAT_WAIT_S)
        return Response("too late", status=503, mimetype="text/plain")
    wechat = services.config.wechat
    args = request.args
    timestamp, nonce = _checked_query(wechat, request)
    safe_mode = args.get("encrypt_type", "raw").lower() == "aes"
    envelope = parse_xml(_read_body(request))
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
    reply_text = inbound.process(services, delivery, look, deadline)
    if not reply_text:
        return Response(NO_REPLY, mimetype="text/plain")
    xml = render_text_reply(fields, reply_text)
    if cipher is not None:
        xml = cipher.encrypt_reply(xml, nonce, timestamp)
    return Response(xml, mimetype="application/xml")


def _checked_query(wechat: WeChatConfig, request: Request) -> tuple[str, str]:
    """The timestamp and nonce, once the query string alone has shown the request to be
    WeChat's and fresh, before a byte of the body is read: a forger or a slow client is
    turned away without a thread waiting on what it sends.

    WeChat signs token+timestamp+nonce as ``signature`` in every mode; safe and compatible
    mode add ``msg_signature`` over the body's Encrypt, checked once the body is read
    (wechatpy's own examples check ``signature`` first in every mode too).
    """
    args = request.args
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    check_signature((timestamp, nonce), wechat.token, args.get("signature", ""), "signature")
    check_fresh(timestamp, time.time(), wechat.timestamp_tolerance_s)
    return timestamp, nonce


def _read_body(request: Request) -> bytes:
    """The body, at most 64 KiB. A read that stalls past the server's socket timeout
    (bot/gunicorn_app.py) or a sender that goes away ends the request with a 408."""
    declared = request.content_length
    if declared is not None and declared > MAX_BODY_BYTES:
        raise Rejection(413, f"body of {declared} bytes is over {MAX_BODY_BYTES}")
    try:
        body = request.stream.read(MAX_BODY_BYTES + 1)
    except ClientDisconnected:
        raise Rejection(408, "body stalled or was cut short") from None
    if len(body) > MAX_BODY_BYTES:
        raise Rejection(413, f"body is over {MAX_BODY_BYTES} bytes")
    return body


def _cipher(services: WebhookServices) -> Cipher:
    wechat = services.config.wechat
    if not wechat.encoding_aes_key:
        raise Rejection(400, "safe-mode message but wechat.encoding_aes_key is not set")
    return Cipher(wechat.token, wechat.encoding_aes_key, wechat.app_id)
