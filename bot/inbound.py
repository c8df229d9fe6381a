"""Turn one verified delivery into a stored row, a handled conversation turn and a reply.

Everything a delivery changes happens in one transaction: the resident, the inbound row,
and whatever the handler did. A handler that fails takes that transaction with it; the
delivery is then stored again on its own, so nothing a resident said is lost, and they
get an apology.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from bot.dedupe import DeliveryGuard, FirstLook
from bot.services import Services
from handlers.context import Context
from handlers.message import EVENT, TEXT, VOICE, Message, Reply
from handlers.pushes import with_held_notices
from models.inbound import record_inbound, record_reply, stored_reply
from models.outbox import take_held_for_reply
from models.residents import (
    INTERACTION_MESSAGE,
    INTERACTION_TAP,
    get_or_create_resident,
    touch_resident,
)

log = logging.getLogger(__name__)

HANDLER_ERROR_TEXT = {
    "zh": "抱歉，处理您的消息时出了点问题，请稍后再试。",
    "en": "Sorry, something went wrong handling your message. Please try again.",
}


@dataclass(frozen=True)
class Delivery:
    fields: Mapping[str, str]
    message: Message
    key: str


def process(services: Services, guard: DeliveryGuard, delivery: Delivery, look: FirstLook) -> str:
    """The reply text for a delivery ("" for none), handling it only the first time."""
    if look.cached_reply is not None:
        return look.cached_reply
    if not look.claimed:
        cached = guard.wait_for_reply(delivery.key)
        if cached is not None:
            return cached
    reply = _handle_once(services, delivery)
    guard.cache_reply(delivery.key, reply)
    return reply


class _HandlerFailed(Exception):
    """A handler raised: its transaction is rolled back and the delivery stored without it."""


def _handle_once(services: Services, delivery: Delivery) -> str:
    """Store and handle a delivery in one transaction.

    A handler that fails takes its whole transaction with it; the delivery is then stored
    again in a fresh one, answered with an apology, so nothing a resident said is lost.
    (A savepoint around the handler would do the same at two more round trips a message.)
    """
    try:
        return _store_and_answer(services, delivery, run_handler=True)
    except _HandlerFailed:
        log.exception(
            "handler failed for delivery %s; kept the message, sent an apology", delivery.key
        )
        return _store_and_answer(services, delivery, run_handler=False)


def _store_and_answer(services: Services, delivery: Delivery, run_handler: bool) -> str:
    message = delivery.message
    now = services.clock()
    unsubscribing = message.type == EVENT and message.event == "unsubscribe"
    with services.session_factory() as db, db.begin():
        if unsubscribing:
            resident = get_or_create_resident(db, message.openid, now)
        else:
            kind = INTERACTION_TAP if message.is_tap else INTERACTION_MESSAGE
            resident = touch_resident(db, message.openid, now, kind)
        inbound_id = record_inbound(
            db,
            resident_id=resident.id,
            dedupe_key=delivery.key,
            msg_id=int(delivery.fields["MsgId"]) if delivery.fields.get("MsgId") else None,
            msg_type=message.type,
            event=message.event or None,
            event_key=message.event_key or None,
            content=_content(message, delivery.fields),
            received_at=now,
        )
        if inbound_id is None:
            return stored_reply(db, delivery.key) or ""
        ctx = Context(
            db=db,
            resident=resident,
            sessions=services.sessions,
            catalog=services.router.catalog,
            settings=services.handler_settings,
            now=now,
            flow=services.sessions.load(message.openid) if run_handler else None,
        )
        if run_handler:
            reply = _dispatch(services, message, ctx)
        else:
            reply = HANDLER_ERROR_TEXT[ctx.language]
        if not unsubscribing:
            reply = _with_held_pushes(reply, ctx)
        record_reply(db, inbound_id, reply)
        return reply


def _dispatch(services: Services, message: Message, ctx: Context) -> str:
    try:
        reply: Reply | None = services.router.dispatch(message, ctx)
    except Exception as exc:
        raise _HandlerFailed from exc
    return reply.text if reply is not None else ""


def _with_held_pushes(reply: str, ctx: Context) -> str:
    """Pushes no channel could carry go out with this reply, now that the resident wrote."""
    held = take_held_for_reply(ctx.db, ctx.resident.id, ctx.now)
    default = ctx.settings.default_language
    notices = [
        str(payload["text"].get(ctx.language) or payload["text"][default]) for payload in held
    ]
    return with_held_notices(reply, notices, ctx)


def _content(message: Message, fields: Mapping[str, str]) -> str | None:
    """What staff see in SQL: the words for text and voice, the payload for the rest."""
    if message.type in (TEXT, VOICE):
        return message.text
    payload = {k: v for k, v in fields.items() if k not in ("ToUserName", "FromUserName")}
    return json.dumps(payload, ensure_ascii=False)
