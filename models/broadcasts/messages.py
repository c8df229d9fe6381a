"""What residents read in a broadcast: staff's words, or an event's announcement, with
the opt-out line at the end."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from models.broadcasts.records import BroadcastError
from models.events.errors import EventError
from models.events.queries import get_event, occupancy
from models.events.tables import Event, EventStatus
from texts.catalog import LINES, both

MAX_TEXT = 600


def text_message(text_zh: str, text_en: str | None = None) -> dict[str, str]:
    """Staff's words in both languages (English readers get the Chinese when none given)."""
    texts = {"zh": text_zh.strip(), "en": (text_en or text_zh).strip()}
    for language, words in texts.items():
        if not words:
            raise BroadcastError("--text cannot be empty")
        if len(words) > MAX_TEXT:
            option = "--text" if language == "zh" else "--text-en"
            raise BroadcastError(f"{option} is {len(words)} characters; at most {MAX_TEXT}")
    return texts


def event_announcement(db: Session, event: Event, tz: ZoneInfo) -> dict[str, str]:
    """An event as a broadcast: title, local time, place, places open, how to sign up.

    The places shown are those a new sign-up may take: a place freed while people wait
    is theirs, so an announcement never invites anyone to it."""
    left = occupancy(db, event).places_open
    when = event.starts_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    lines = [both("push_announce_title", title=event.title), both("push_announce_when", when=when)]
    if event.place:
        lines.append(both("push_announce_place", place=event.place))
    if event.signup_deadline is not None:
        deadline = event.signup_deadline.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        lines.append(both("push_announce_deadline", deadline=deadline))
    if left > 0:
        lines.append(both("push_announce_places_left", left=left))
    else:
        lines.append(both("push_announce_full"))
    lines.append(both("push_announce_signup", event_id=event.id))
    return LINES.join(lines).as_dict()


def announceable_event(db: Session, event_id: int, when: datetime) -> Event:
    """The event to announce, refused when residents could not sign up for it at ``when``."""
    try:
        event = get_event(db, event_id)
    except EventError:
        raise BroadcastError(f"--event: there is no event {event_id}") from None
    if event.status != EventStatus.PUBLISHED:
        raise BroadcastError(f"--event: event {event_id} is {event.status}, not published")
    if when >= event.closes_at:
        raise BroadcastError(f"--event: sign-up for event {event_id} closes before the broadcast")
    return event


def as_residents_see(texts: dict[str, str]) -> dict[str, str]:
    """The message with the opt-out line residents see at its end."""
    footer = both("push_broadcast_footer")
    return {language: f"{words}\n{footer.text(language)}" for language, words in texts.items()}
