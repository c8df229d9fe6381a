"""我的活动/my events: the resident's sign-ups and check-ins of recent and coming events."""

from __future__ import annotations

from datetime import timedelta

from handlers.context import Context
from handlers.events.wording import event_when, signup_status
from handlers.message import Message, Reply
from models.events.queries import resident_signups
from models.events.tables import EventStatus

# "My events" shows sign-ups for events that started at most this long ago.
MY_EVENTS_SINCE = timedelta(days=1)
MY_EVENTS_SHOWN = 10


def my_events(message: Message, ctx: Context) -> Reply:
    rows = resident_signups(
        ctx.db, ctx.contact.resident_id, ctx.now - MY_EVENTS_SINCE, limit=MY_EVENTS_SHOWN
    )
    if not rows:
        return Reply(ctx.t("event_my_empty"))
    lines = [ctx.t("event_my_header")]
    for signup, event, attendance in rows:
        if event.status == EventStatus.CANCELLED:
            status = ctx.t("event_status_event_cancelled")
        elif attendance is not None or signup is None:
            # A walk-in has no sign-up: only its check-in brought the event here.
            status = ctx.t("event_status_attended")
        else:
            status = signup_status(ctx, signup)
        lines.append(
            ctx.t(
                "event_my_item",
                id=event.id,
                title=event.title,
                when=event_when(ctx, event),
                status=status,
            )
        )
    return Reply("\n".join(lines))
