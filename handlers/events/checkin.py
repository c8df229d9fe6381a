"""Checking in by scanning an event's QR code."""

from __future__ import annotations

from handlers.context import Context
from handlers.events.refusals import refusal_reply
from handlers.events.wording import parse_numbers
from handlers.message import Message, Reply
from models.events.checkin import check_in
from models.events.errors import EventError, EventRefusal
from models.events.queries import live_signup
from models.events.tables import CheckinMethod, Event


def on_checkin_scan(message: Message, ctx: Context, rest: str) -> Reply:
    numbers = parse_numbers(rest)
    if numbers is None or len(numbers) != 1:
        return Reply(ctx.t("event_bad_qr"))
    event_id = numbers[0]
    try:
        result = check_in(ctx.db, event_id, ctx.resident, CheckinMethod.QR, ctx.now)
    except EventError as error:
        if error.reason in (EventRefusal.UNKNOWN_EVENT, EventRefusal.NOT_PUBLISHED):
            return Reply(ctx.t("event_bad_qr"))
        refusal = refusal_reply(ctx, error, event_id)
        if error.reason == EventRefusal.CHECKIN_NOT_OPEN and error.event is not None:
            return Reply("\n".join([refusal.text, *_not_signed_up(ctx, error.event)]))
        return refusal
    title = result.event.title
    if not result.first_time:
        time = ctx.local_time(result.attendance.checked_in_at)[11:]
        return Reply(ctx.t("event_checked_in_before", title=title, time=time))
    if result.walk_in:
        return Reply(ctx.t("event_walked_in", title=title))
    return Reply(ctx.t("event_checked_in", title=title, count=result.attendance.party_size))


def _not_signed_up(ctx: Context, event: Event) -> list[str]:
    """For someone who scanned before check-in opens: how to sign up, if they have not
    and still can (there is time to, and then the scan checks them in)."""
    resident_id = ctx.contact.resident_id
    if live_signup(ctx.db, event.id, resident_id) is not None or ctx.now >= event.closes_at:
        return []
    return [ctx.t("event_scan_signup", id=event.id)]


def unknown_qr(message: Message, ctx: Context) -> Reply:
    return Reply(ctx.t("event_unknown_qr"))
