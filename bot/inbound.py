"""Turn one verified delivery into a handled conversation turn, a stored row and a reply.

The delivery is looked up, handled, then stored with its reply in the transaction that
holds whatever the handler changed, so the message, its effects and its answer commit
together or not at all. A reply that changed nothing in the database (help, most menu
taps) costs two autocommitted statements: the look-up and the store.

Two copies of one delivery that both get this far (Redis down, or a first copy too slow
to wait for) are both handled, and the database keeps one: the copy whose store finds the
other's row rolls its own work back and answers with the stored reply. A handler that
fails takes its work with it; the delivery is then stored on its own with an apology, so
nothing a resident said is lost.

A delivery that cannot reach the database is written to the spool (bot/spool.py) and
answered "got it, we will reply shortly" in the resident's language; the drain
(bot/drain.py) handles it later through the same steps, and its reply becomes a
``deferred_reply`` push queued in the transaction that stores it. A copy that fails for
any reason gives up its Redis claim at once, so WeChat's re-send is handled straight away.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.exc import DBAPIError

from bot.dedupe import FirstLook
from bot.outage import Deadline, unreachable
from bot.redis_conn import KeyWrite
from bot.safe_log import log_failure
from bot.sessions import HeldFlow
from bot.spool import SpooledDelivery
from bot.webhook_services import WebhookServices
from bot.wechat.protocol import to_message
from handlers.context import Context, FlowState
from handlers.message import Message, MessageType, Reply
from handlers.pushes import with_held_notices
from models.inbound import (
    NewInbound,
    enrol,
    look_up,
    queue_deferred_reply,
    store,
    stored_reply,
)
from models.push.policy import take_held_for_reply
from models.push.rows import reader_text
from models.residents import InteractionKind

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    fields: Mapping[str, str]
    message: Message
    key: str


@dataclass(frozen=True)
class Answer:
    """A handled delivery's reply ("" for none), and the sender's flow as its handlers
    left it, to be written once the delivery is stored (None: nothing to write)."""

    reply: str
    flow: KeyWrite | None = None


def process(
    services: WebhookServices, delivery: Delivery, look: FirstLook, deadline: Deadline
) -> str:
    """The reply text for a delivery ("" for none), handling it only the first time;
    SpoolUnavailable when neither the database nor the spool can take it."""
    if look.cached_reply is not None:
        return look.cached_reply
    if not look.claimed:
        cached = services.guard.wait_for_reply(delivery.key, deadline)
        if cached is not None:
            return cached
    try:
        answer = _handle_or_spool(services, delivery, services.sessions.parse(look.extra))
    except BaseException:
        services.guard.release(delivery.key)
        raise
    services.guard.cache_reply(delivery.key, answer.reply, answer.flow)
    return answer.reply


def handle_spooled(services: WebhookServices, spooled: SpooledDelivery) -> None:
    """Handle a delivery the spool kept, unless a copy was stored meanwhile; its reply is
    queued as a push in the transaction that stores it. Errors reach the drain."""
    delivery = Delivery(spooled.fields, to_message(spooled.fields), spooled.key)
    flow = services.sessions.load(delivery.message.openid)
    answer = _handle_once(services, delivery, flow, deferred_from=spooled.received_at)
    if answer.flow is not None:
        services.sessions.apply(answer.flow)


def _handle_or_spool(
    services: WebhookServices, delivery: Delivery, flow: FlowState | None
) -> Answer:
    """Handle the delivery, or spool it while the database cannot be reached (the flow
    then stays as it was, for the drain's handling)."""
    if not services.gate.down:
        try:
            return _handle_once(services, delivery, flow)
        except Exception as error:
            if not unreachable(error):
                raise
            services.gate.close()
            log_failure(
                log, f"database unreachable; spooling {_log_reference(delivery.key)}", error
            )
    services.spool.append(SpooledDelivery(delivery.key, delivery.fields, services.clock()))
    language = services.languages.recall(delivery.message.openid)
    return Answer(
        services.router.catalog.render(
            "reply_deferred", language or services.handler_settings.default_language
        )
    )


class _HandlerFailed(Exception):
    """A handler raised: its work is rolled back and the delivery stored without it."""


def _handle_once(
    services: WebhookServices,
    delivery: Delivery,
    flow: FlowState | None,
    deferred_from: datetime | None = None,
) -> Answer:
    """Handle and store a delivery; if the handler fails, store it with an apology.
    ``deferred_from`` (when a spooled delivery arrived) sends the reply as a push."""
    try:
        return _on_live_connection(services, delivery, flow, True, deferred_from)
    except _HandlerFailed as failure:
        log_failure(
            log,
            f"handler failed for delivery {_log_reference(delivery.key)}; "
            "kept the message, sent an apology",
            failure.__cause__ or failure,
        )
        return _on_live_connection(services, delivery, None, False, deferred_from)


def _on_live_connection(
    services: WebhookServices,
    delivery: Delivery,
    flow: FlowState | None,
    run_handler: bool,
    deferred_from: datetime | None,
) -> Answer:
    """Retry once when the pooled connection was dead (PostgreSQL restarted): the webhook
    does not ping connections before use, and the failure has closed the pool's idle
    connections (models/driver_sql.py), so the second try runs on a fresh one."""
    try:
        return _store_and_answer(services, delivery, flow, run_handler, deferred_from)
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
        log.warning(
            "database connection was lost; retrying delivery %s", _log_reference(delivery.key)
        )
        return _store_and_answer(services, delivery, flow, run_handler, deferred_from)


def _store_and_answer(
    services: WebhookServices,
    delivery: Delivery,
    flow: FlowState | None,
    run_handler: bool,
    deferred_from: datetime | None,
) -> Answer:
    """Look up, handle and store on one connection. The ORM session that handlers use
    begins a transaction only if they touch the database, and the store joins it. What
    the handlers did to the flow is answered, not written (bot/sessions.py HeldFlow)."""
    message = delivery.message
    now = services.clock()
    new = _new_inbound(delivery, deferred_from or now)
    with services.engine.connect() as connection:
        arrival = look_up(connection, message.openid, delivery.key)
        if arrival.answered is not None:
            return Answer(arrival.answered)
        contact = arrival.contact or enrol(connection, new)
        services.languages.remember(message.openid, contact.language)
        with services.session_factory(bind=connection) as db:
            held = HeldFlow(services.sessions)
            ctx = services.context(db, contact, now, flow, held)
            if run_handler:
                answer = _dispatch(services, message, ctx)
                reply = answer.text if answer is not None else ""
                if answer is not None and answer.erases_message:
                    new = replace(new, content=None)
            else:
                reply = ctx.t("handler_error")
            if contact.has_held_pushes and not _unfollowing(message):
                reply = _with_held_pushes(reply, ctx)
            if deferred_from is not None and reply and not _unfollowing(message):
                queue_deferred_reply(db, contact, delivery.key, reply, deferred_from, now)
            db.flush()
            # A handler that never reached the database left nothing to commit: its
            # delivery is stored by the group commit, with those of other threads
            # (asking the session would cost it a transaction object).
            handler_wrote = connection.in_transaction()
            handled = (new, contact.resident_id, reply)
            if handler_wrote:
                stored = store(connection, *handled)
            else:
                stored = services.committer.submit(connection, handled)
            if not stored:
                db.rollback()
                return Answer(stored_reply(connection, delivery.key) or "")
            if handler_wrote:
                db.commit()
        return Answer(reply, held.write)


def _log_reference(key: str) -> str:
    """How logs name a delivery: a message's key is its MsgId; an event's key holds the
    sender's openid, so logs get a hash of it instead."""
    if key.startswith("msg:"):
        return key
    return "evt:" + hashlib.sha256(key.encode()).hexdigest()[:16]


def _new_inbound(delivery: Delivery, now: datetime) -> NewInbound:
    message, fields = delivery.message, delivery.fields
    if _unfollowing(message):
        interaction = None
    else:
        interaction = InteractionKind.TAP if message.is_tap else InteractionKind.MESSAGE
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
    return message.type == MessageType.EVENT and message.event == "unsubscribe"


def _dispatch(services: WebhookServices, message: Message, ctx: Context) -> Reply | None:
    try:
        return services.router.dispatch(message, ctx)
    except Exception as exc:
        raise _HandlerFailed from exc


def _with_held_pushes(reply: str, ctx: Context) -> str:
    """Pushes no channel could carry go out with this reply, now that the resident wrote."""
    held = take_held_for_reply(ctx.db, ctx.contact.resident_id, ctx.now)
    default = ctx.settings.default_language
    notices = [reader_text(payload, ctx.language, default) for payload in held]
    return with_held_notices(reply, notices, ctx)


def _content(message: Message, fields: Mapping[str, str]) -> str | None:
    """What staff see in SQL: the words for text and voice, the payload for the rest."""
    if message.type in (MessageType.TEXT, MessageType.VOICE):
        return message.text
    payload = {k: v for k, v in fields.items() if k not in ("ToUserName", "FromUserName")}
    return json.dumps(payload, ensure_ascii=False)
