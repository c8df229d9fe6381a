"""What the event rules queue for residents: the push payloads (texts in both languages
and template fields) and how long a notice stays worth sending.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from models.base import local_text
from models.events.tables import Event, Signup
from texts.catalog import LINES, NOTHING, both

# A cancellation notice is worth sending until the event would have begun; once it has
# begun (rain called it off mid-way), people on their way or already there still need to
# hear, so the notice lives until the event's end, and at least this long.
LATE_CANCEL_NOTICE_WINDOW = timedelta(hours=3)


def cancel_notice_expires_at(event: Event, now: datetime) -> datetime:
    """When a cancellation notice stops being worth sending: at the start for an event
    not yet begun; for one already under way, at its end or a few hours from now,
    whichever is later, so the notice is never born expired."""
    if event.starts_at > now:
        return event.starts_at
    return max(event.over_at, now + LATE_CANCEL_NOTICE_WINDOW)


def cancellation_payload(event: Event, signup: Signup, reason: str, tz: ZoneInfo) -> dict[str, Any]:
    """The push telling a signed-up resident the event is off, with its template values
    (models/push/registry.py)."""
    when = local_text(event.starts_at, tz)
    return {
        "text": both("push_event_cancelled", title=event.title, when=when, reason=reason).as_dict(),
        "fields": {
            "event_id": event.id,
            "title": event.title,
            "starts_at": when,
            "reason": reason,
            "signup_status": signup.status,
        },
    }


def confirmed_push_text(
    key: str, event_id: int, title: str, when: str, place: str | None, checkin_code: str
) -> dict[str, str]:
    """The text of a push that sends a confirmed resident to an event (a promotion, a
    reminder): when and where, the check-in code, how to cancel. An event with no place
    leaves the place out."""
    where = both("push_event_place", place=place) if place else NOTHING
    return both(
        key, title=title, when=when, place=where, code=checkin_code, event_id=event_id
    ).as_dict()


def promotion_payload(event: Event, signup: Signup, tz: ZoneInfo) -> dict[str, Any]:
    """The push telling a waitlisted resident their place is confirmed, with its template
    values (models/push/registry.py)."""
    when = local_text(event.starts_at, tz)
    return {
        "text": confirmed_push_text(
            "push_event_promoted", event.id, event.title, when, event.place, signup.checkin_code
        ),
        "fields": {
            "event_id": event.id,
            "title": event.title,
            "starts_at": when,
            # A template shows no place as nothing, never as "None".
            "place": event.place or "",
            "party_size": signup.party_size,
            "checkin_code": signup.checkin_code,
        },
    }


def change_payload(
    event: Event, signup: Signup, old_starts_at: datetime, old_place: str | None, tz: ZoneInfo
) -> dict[str, Any]:
    """The push telling a signed-up resident the event's time or place changed: what it
    is now, what changed, how to cancel; with its template values (models/push/registry.py)."""
    when = local_text(event.starts_at, tz)
    lines = [both("push_event_changed", title=event.title)]
    if event.starts_at != old_starts_at:
        lines.append(both("push_event_changed_time", when=when, was=local_text(old_starts_at, tz)))
    if event.place != old_place:
        lines.append(both("push_event_changed_place", place=event.place or "", was=old_place or ""))
    lines.append(both("push_event_changed_cancel", event_id=event.id))
    return {
        "text": LINES.join(lines).as_dict(),
        "fields": {
            "event_id": event.id,
            "signup_id": signup.id,
            "title": event.title,
            "starts_at": when,
            "place": event.place or "",
            "old_starts_at": local_text(old_starts_at, tz),
            "old_place": old_place or "",
            "signup_status": signup.status,
        },
    }
