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
from datetime import datetime

from sqlalchemy.exc import DBAPIError

from bot.dedupe import DeliveryGuard, FirstLook
from bot.services import Services
from handlers.context import Context, FlowState
from handlers.message import EVENT, TEXT, VOICE, Message, Reply
from handlers.pushes import with_held_notices
from models.inbound import NewInbound, record_delivery, record_reply, stored_reply
from models.outbox import take_held_for_reply
from models.residents import INTERACTION_MESSAGE, INTERACTION_TAP

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
    reply = _handle_once(services, delivery, services.sessions.parse(look.extra))
    guard.cache_reply(delivery.key, reply)
    return reply


class _HandlerFailed(Exception):
    """A handler raised: its transaction is rolled back and the delivery stored without it."""


def _handle_once(services: Services, delivery: Delivery, flow: FlowState | None) -> str:
    """Store and handle a delivery in one transaction.

    A handler that fails takes its whole transaction with it; the delivery is then stored
    again in a fresh one, answered with an apology, so nothing a resident said is lost.
    (A savepoint around the handler would do the same at two more round trips a message.)
    """
    try:
        return _on_live_connection(services, delivery, flow, run_handler=True)
    except _HandlerFailed:
        log.exception(
            "handler failed for delivery %s; kept the message, sent an apology", delivery.key
        )
        return _on_live_connection(services, delivery, None, run_handler=False)


def _on_live_connection(
    services: Services, delivery: Delivery, flow: FlowState | None, run_handler: bool
) -> str:
    """Retry once when the pooled connection was dead (PostgreSQL restarted): the webhook
    does not ping connections before use, and SQLAlchemy has by now replaced the pool's
    connections, so the second try runs on a fresh one."""
    try:
        return _store_and_answer(services, delivery, flow, run_handler)
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
        log.warning("database connection was lost; retrying delivery %s", delivery.key)
        return _store_and_answer(services, delivery, flow, run_handler)


def _store_and_answer(
    services: Services, delivery: Delivery, flow: FlowState | None, run_handler: bool
) -> str:
    """The resident, the inbound row, the handler's work and the reply, in one transaction
    on one connection; the ORM session that handlers use joins it."""
    message = delivery.message
    now = services.clock()
    with services.engine.begin() as connection:
        contact, inbound_id = record_delivery(connection, _new_inbound(delivery, now))
        if inbound_id is None:
            return stored_reply(connection, delivery.key) or ""
        with services.session_factory(bind=connection) as db:
            ctx = Context(
                db=db,
                contact=contact,
                sessions=services.sessions,
                catalog=services.router.catalog,
                settings=services.handler_settings,
                now=now,
                flow=flow,
            )
            if run_handler:
                reply = _dispatch(services, message, ctx)
            else:
                reply = HANDLER_ERROR_TEXT[ctx.language]
            if contact.has_held_pushes and not _unfollowing(message):
                reply = _with_held_pushes(reply, ctx)
            db.flush()
        record_reply(connection, inbound_id, reply)
        return reply


def _new_inbound(delivery: Delivery, now: datetime) -> NewInbound:
    message, fields = delivery.message, delivery.fields
    if _unfollowing(message):
        interaction = None
    else:
        interaction = INTERACTION_TAP if message.is_tap else INTERACTION_MESSAGE
    return NewInbound(
        openid=message.openid,
        interaction=interaction,
        dedupe_key=delivery.key,
        msg_id=int(fields["MsgId"]) if fields.get("MsgId") else None,
        msg_type=message.type,
        event=message.event or None,
        event_key=message.event_key or None,
        content=_content(message, fields),
        received_at=now,
    )


def _unfollowing(message: Message) -> bool:
    """Unfollowing opens no service window, and nothing can ride on its (unseen) reply."""
    return message.type == EVENT and message.event == "unsubscribe"


def _dispatch(services: Services, message: Message, ctx: Context) -> str:
    try:
        reply: Reply | None = services.router.dispatch(message, ctx)
    except Exception as exc:
        raise _HandlerFailed from exc
    return reply.text if reply is not None else ""


def _with_held_pushes(reply: str, ctx: Context) -> str:
    """Pushes no channel could carry go out with this reply, now that the resident wrote."""
    held = take_held_for_reply(ctx.db, ctx.contact.resident_id, ctx.now)
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
