"""One clear sentence for each rule of models/events/ that a request broke."""

from __future__ import annotations

from handlers.context import Context
from handlers.events.wording import signup_status
from handlers.message import Reply
from models.events.errors import EventError, EventRefusal
from models.events.tables import CHECKIN_OPENS_BEFORE


def refusal_reply(ctx: Context, error: EventError, event_id: int) -> Reply:
    """One clear sentence for each rule the request broke."""
    event = error.event
    title = event.title if event is not None else ""
    if error.reason in (EventRefusal.UNKNOWN_EVENT, EventRefusal.NOT_PUBLISHED) or event is None:
        return Reply(ctx.t("event_unknown", id=event_id))
    if error.reason == EventRefusal.EVENT_CANCELLED:
        return Reply(ctx.t("event_is_cancelled", title=title))
    if error.reason == EventRefusal.EVENT_FINISHED:
        return Reply(ctx.t("event_is_finished", title=title))
    if error.reason == EventRefusal.DEADLINE_PASSED:
        return Reply(
            ctx.t("event_deadline_passed", title=title, deadline=ctx.local_time(event.closes_at))
        )
    if error.reason == EventRefusal.ALREADY_SIGNED_UP and error.signup is not None:
        return Reply(
            ctx.t(
                "event_already_signed_up",
                title=title,
                status=signup_status(ctx, error.signup),
                id=event.id,
            )
        )
    if error.reason == EventRefusal.ATTENDING:
        return Reply(ctx.t("event_already_attending", title=title))
    if error.reason == EventRefusal.PARTY_TOO_LARGE:
        return Reply(ctx.t("event_party_too_large", title=title, max=event.max_party_size))
    if error.reason == EventRefusal.BAD_PARTY:
        return Reply(ctx.t("event_party_invalid"))
    if error.reason == EventRefusal.CONTACT_REQUIRED:
        return Reply(ctx.t("event_contact_missing", id=event.id))
    if error.reason == EventRefusal.NOT_SIGNED_UP:
        return Reply(ctx.t("event_not_signed_up", id=event.id))
    if error.reason == EventRefusal.STARTED:
        return Reply(ctx.t("event_started", title=title))
    if error.reason == EventRefusal.CHECKED_IN:
        return Reply(ctx.t("event_cancel_checked_in", title=title))
    if error.reason == EventRefusal.CHECKIN_NOT_OPEN:
        opens = ctx.local_time(event.starts_at - CHECKIN_OPENS_BEFORE)
        return Reply(ctx.t("event_checkin_not_open", title=title, opens=opens))
    if error.reason == EventRefusal.CHECKIN_CLOSED:
        return Reply(ctx.t("event_checkin_closed", title=title))
    if error.reason == EventRefusal.NO_ROOM:
        return Reply(ctx.t("event_no_room", title=title))
    raise error
