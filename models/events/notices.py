"""What the event rules queue for residents: the push payloads (texts in both languages
and template fields) and how long a notice stays worth sending.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from models.base import local_text
from models.events.tables import Event, Signup

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
    (models.outbox.PUSH_KIND_VALUES["event_cancelled"])."""
    when = local_text(event.starts_at, tz)
    return {
        "text": {
            "zh": f"很抱歉，活动“{event.title}”（{when}）已取消。原因：{reason}",
            "en": f"Sorry, the event '{event.title}' ({when}) is cancelled: {reason}",
        },
        "fields": {
            "event_id": event.id,
            "title": event.title,
            "starts_at": when,
            "reason": reason,
            "signup_status": signup.status,
        },
    }


def promotion_payload(event: Event, signup: Signup, tz: ZoneInfo) -> dict[str, Any]:
    """The push telling a waitlisted resident their place is confirmed, with its template
    values (models.outbox.PUSH_KIND_VALUES["promotion"])."""
    when = local_text(event.starts_at, tz)
    place_zh = f"，地点：{event.place}" if event.place else ""
    place_en = f" at {event.place}" if event.place else ""
    return {
        "text": {
            "zh": (
                f"好消息！您候补的活动“{event.title}”有名额了，已为您确认报名。"
                f"时间：{when}{place_zh}。签到码：{signup.checkin_code}。"
                f"如不能参加，请回复“取消报名 {event.id}”。"
            ),
            "en": (
                f"Good news: a place opened up for '{event.title}' and your sign-up is "
                f"confirmed. {when}{place_en}. Check-in code: {signup.checkin_code}. "
                f"If you cannot come, reply 'cancel {event.id}'."
            ),
        },
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
