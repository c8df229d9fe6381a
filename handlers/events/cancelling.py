"""取消报名 N/cancel N, and 报名 or 取消报名 without a number."""

from __future__ import annotations

from handlers.context import Context
from handlers.events.refusals import refusal_reply
from handlers.events.wording import parse_numbers
from handlers.message import Message, Reply
from models.events.errors import EventError, EventRefusal
from models.events.signups import cancel_signup


def ask_which(message: Message, ctx: Context) -> Reply:
    """报名 / 取消报名 without a number."""
    return Reply(ctx.t("event_which", example=ctx.t("event_which_example_signup")))


def cancel(message: Message, ctx: Context, arg: str) -> Reply:
    numbers = parse_numbers(arg)
    if numbers is None or len(numbers) != 1:
        return Reply(ctx.t("event_which", example=ctx.t("event_which_example_cancel")))
    event_id = numbers[0]
    try:
        result = cancel_signup(ctx.db, event_id, ctx.resident, ctx.now, ctx.settings.timezone)
    except EventError as error:
        if error.reason == EventRefusal.NOT_SIGNED_UP:
            return Reply(ctx.t("event_not_signed_up", id=event_id))
        return refusal_reply(ctx, error, event_id)
    return Reply(ctx.t("event_cancel_done", title=result.event.title))
