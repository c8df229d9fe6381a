"""How events and sign-ups read in chat: times, places, places open, statuses;
and the event numbers residents type."""

from __future__ import annotations

from handlers.context import Context
from handlers.router import normalize
from models.events.queries import Occupancy
from models.events.tables import Event, Signup, SignupStatus


def event_when(ctx: Context, event: Event) -> str:
    start = ctx.local_time(event.starts_at)
    if event.ends_at is None:
        return start
    end = ctx.local_time(event.ends_at)
    return f"{start}–{end[11:]}" if end[:10] == start[:10] else f"{start} – {end}"


def event_place(ctx: Context, event: Event) -> str:
    return event.place or ctx.t("event_place_tba")


def availability_text(ctx: Context, event: Event, taken: Occupancy) -> str:
    if ctx.now >= event.closes_at:
        return ctx.t("event_signup_closed")
    if taken.places_open > 0:
        return ctx.t("event_places_left", count=taken.places_open)
    return ctx.t("event_waitlist_only")


def signup_status(ctx: Context, signup: Signup) -> str:
    if signup.status == SignupStatus.CONFIRMED:
        return ctx.t("event_status_confirmed", count=signup.party_size, code=signup.checkin_code)
    if signup.status == SignupStatus.WAITLISTED:
        return ctx.t("event_status_waitlisted", position=signup.waitlist_position)
    return ctx.t("event_status_cancelled")


def parse_numbers(arg: str) -> list[int] | None:
    """``3``, ``#3``, ``3号`` or ``3 2``: the numbers in an argument, or None."""
    numbers: list[int] = []
    for part in normalize(arg).split():
        cleaned = part.lstrip("#第").rstrip("号")
        if not cleaned.isdecimal() or len(cleaned) > 9:
            return None
        numbers.append(int(cleaned))
    return numbers or None
