"""What residents read in a broadcast: staff's words, or an event's announcement, with
the opt-out line at the end."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from models.broadcasts.records import BroadcastError
from models.events import (
    PUBLISHED,
    Event,
    EventError,
    get_event,
    occupancy,
)

MAX_TEXT = 600


FOOTER = {
    "zh": "（回复“退订”不再接收活动推送）",
    "en": "(Reply 'unsubscribe' to stop these broadcasts.)",
}


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
    """An event as a broadcast: title, local time, place, places left, how to sign up."""
    left = occupancy(db, event).places_left
    when = event.starts_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    zh = [f"活动：{event.title}", f"时间：{when}"]
    en = [f"Event: {event.title}", f"When: {when}"]
    if event.place:
        zh.append(f"地点：{event.place}")
        en.append(f"Where: {event.place}")
    if event.signup_deadline is not None:
        deadline = event.signup_deadline.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        zh.append(f"报名截止：{deadline}")
        en.append(f"Sign up by: {deadline}")
    if left > 0:
        zh.append(f"剩余名额：{left}")
        en.append(f"Places left: {left}")
    else:
        zh.append("名额已满，可报名候补")
        en.append("Full: signing up puts you on the waitlist")
    zh.append(f"回复“报名 {event.id}”报名")
    en.append(f"Reply 'signup {event.id}' to sign up")
    return {"zh": "\n".join(zh), "en": "\n".join(en)}


def announceable_event(db: Session, event_id: int, when: datetime) -> Event:
    """The event to announce, refused when residents could not sign up for it at ``when``."""
    try:
        event = get_event(db, event_id)
    except EventError:
        raise BroadcastError(f"--event: there is no event {event_id}") from None
    if event.status != PUBLISHED:
        raise BroadcastError(f"--event: event {event_id} is {event.status}, not published")
    if when >= event.closes_at:
        raise BroadcastError(f"--event: sign-up for event {event_id} closes before the broadcast")
    return event


def as_residents_see(texts: dict[str, str]) -> dict[str, str]:
    """The message with the opt-out line residents see at its end."""
    return {language: f"{words}\n{FOOTER[language]}" for language, words in texts.items()}
