"""The residents' inbox from the chat: leaving a message for staff, and what goes to it.

- 人工 / 留言 / "talk to a person" (and the like) asks for the message; the next thing the
  resident writes goes to staff (models/inbox/), opening their conversation, or opening
  it again if staff had closed it. Staff answer from the console; the answer is a push.
- While a conversation is open, text the bot cannot place (what would get "not
  understood") goes to it too, so a resident can go on talking to staff without a
  keyword each time; every command still works as usual.
- Without an open conversation, a resident whose words the bot could not place twice in
  a row is offered to leave a message: the first miss leaves a marker flow
  (``inbox.unplaced``) whose handler hands the next message back to the router and adds
  the offer if that one was not placed either.
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers.basic import not_understood
from handlers.context import Context
from handlers.flows import Draft, Flow, Step, ttl_minutes
from handlers.message import Message, Reply
from handlers.router import Handler, Router
from models.inbox.errors import InboxError
from models.inbox.operations import leave_message

WORDS = (
    "人工",
    "人工客服",
    "转人工",
    "找人工",
    "留言",
    "找工作人员",
    "talk to a person",
    "person",
    "human",
    "staff",
    "leave a message",
)
UNPLACED = "inbox.unplaced"


@dataclass
class MessageDraft(Draft):
    """Nothing said yet: the one step takes the whole message."""


def start_message(message: Message, ctx: Context) -> Reply:
    """人工/talk to a person: the message asked for, or asked for again where a command
    word had set the step aside."""
    return WRITE_FLOW.resume_or(
        ctx, MessageDraft().kept_key(), lambda: WRITE.ask(ctx, MessageDraft())
    )


def _ask(ctx: Context, draft: MessageDraft) -> str:
    if ctx.contact.has_open_conversation:
        return ctx.t("inbox_ask_open")
    return ctx.t("inbox_ask")


def _on_message(message: Message, ctx: Context, draft: MessageDraft) -> Reply:
    if not message.words.strip():
        return Reply(ctx.t("inbox_words_only"))
    try:
        leave_message(ctx.db, ctx.resident, message.words, ctx.now)
    except InboxError as error:
        return Reply(error.text(ctx.language))
    ctx.end_flow()
    return Reply(ctx.t("inbox_left"))


def _expired(ctx: Context, draft: MessageDraft) -> str:
    return ctx.t("inbox_expired", minutes=ttl_minutes(ctx))


def _message_is_called(ctx: Context) -> str:
    return ctx.t("inbox_answer_message")


def _kept(ctx: Context, draft: MessageDraft) -> str:
    return ctx.t("inbox_kept", minutes=ttl_minutes(ctx))


# A command word typed alone where the message is asked for is asked about, as at every
# free-text step (handlers/flows.py): "活动" is more likely the command than the message.
WRITE = Step("inbox.write", _on_message, _ask, free_text=_message_is_called)
WRITE_FLOW = Flow(MessageDraft, (WRITE,), expired=_expired, kept=_kept)


def unplaced(not_understood: Handler) -> Handler:
    """The router's fallback: words for an open conversation go to it; anything else is
    not understood, and marked so that a second miss in a row brings the offer."""

    def fallback(message: Message, ctx: Context) -> Reply | None:
        words = message.words.strip()
        if words and ctx.contact.has_open_conversation:
            try:
                leave_message(ctx.db, ctx.resident, words, ctx.now)
            except InboxError as error:
                return Reply(error.text(ctx.language))
            return Reply(ctx.t("inbox_added"))
        reply = not_understood(message, ctx)
        ctx.start_flow(UNPLACED)
        return reply

    return fallback


def _after_unplaced(router: Router) -> Handler:
    """The message after one not understood, handled as if nothing came before; if it is
    not understood either (the fallback marked it again), the offer follows the answer."""

    def after_unplaced(message: Message, ctx: Context) -> Reply | None:
        ctx.end_flow()
        reply = router.dispatch(message, ctx)
        if ctx.flow is None or ctx.flow.name != UNPLACED:
            return reply
        ctx.end_flow()
        said = f"{reply.text}\n\n" if reply is not None and reply.text else ""
        return Reply(f"{said}{ctx.t('inbox_offer')}")

    return after_unplaced


def register(router: Router) -> None:
    router.add_keyword(WORDS, start_message)
    WRITE_FLOW.register(router)
    router.add_flow(UNPLACED, _after_unplaced(router))
    router.set_fallback(unplaced(not_understood(router)))
