"""Which reminders are due, found from SQL each minute, and queued once each.

A reminder is due ``offset`` before its event starts, for every confirmed sign-up of a
published event. Each (sign-up, offset, start time) is decided once and recorded in the
``reminder`` table: queued (an outbox row that expires when the event starts), or skipped
with a reason. Only the latest due offset of a sign-up is sent, so a resident who signs
up an hour before the start, or whose reminders piled up while the scheduler was down,
gets one reminder, not two at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.base import local_text
from models.events import CONFIRMED, PUBLISHED, Event, Signup
from models.outbox import enqueue_push
from models.pushes import QUEUED, SKIPPED, Reminder
from models.residents import Resident

KIND = "reminder"
# How far back a tick looks for reminders nobody decided (the scheduler was down).
MISSED_LOOKBACK = timedelta(days=2)


class ConcurrentSweep(Exception):
    """Another reminder sweep committed the same reminders first."""


@dataclass(frozen=True)
class Sweep:
    queued: int
    skipped: int


@dataclass(frozen=True)
class _Candidate:
    signup: Signup
    event: Event
    resident: Resident


def queue_due_reminders(
    db: Session, now: datetime, offsets_h: Sequence[float], tz: ZoneInfo
) -> Sweep:
    offsets = sorted({round(h * 60) for h in offsets_h})
    if not offsets:
        return Sweep(0, 0)
    horizon = now + timedelta(minutes=offsets[-1])
    candidates = _candidates(db, now - MISSED_LOOKBACK, horizon)
    decided = _decided(db, [c.signup.id for c in candidates])
    queued = skipped = 0
    for candidate in candidates:
        starts_at = candidate.event.starts_at
        due = [m for m in offsets if starts_at - timedelta(minutes=m) <= now]
        open_offsets = [m for m in due if (m, starts_at) not in decided[candidate.signup.id]]
        for minutes in open_offsets:
            reason = _skip_reason(candidate, minutes, due, now)
            if reason is None:
                outbox_id = _queue(db, candidate, minutes, now, tz)
                db.add(
                    Reminder(
                        signup_id=candidate.signup.id,
                        offset_minutes=minutes,
                        event_starts_at=starts_at,
                        status=QUEUED,
                        outbox_id=outbox_id,
                        created_at=now,
                    )
                )
                queued += 1
            else:
                db.add(
                    Reminder(
                        signup_id=candidate.signup.id,
                        offset_minutes=minutes,
                        event_starts_at=starts_at,
                        status=SKIPPED,
                        created_at=now,
                    )
                )
                skipped += 1
    return Sweep(queued, skipped)


def _candidates(db: Session, since: datetime, until: datetime) -> list[_Candidate]:
    rows = db.execute(
        select(Signup, Event, Resident)
        .join(Event, Event.id == Signup.event_id)
        .join(Resident, Resident.id == Signup.resident_id)
        .where(
            Event.status == PUBLISHED,
            Event.starts_at > since,
            Event.starts_at <= until,
            Signup.status == CONFIRMED,
        )
    ).all()
    return [_Candidate(signup, event, resident) for signup, event, resident in rows]


def _decided(db: Session, signup_ids: list[int]) -> dict[int, set[tuple[int, datetime]]]:
    decided: dict[int, set[tuple[int, datetime]]] = defaultdict(set)
    for chunk_start in range(0, len(signup_ids), 5000):
        chunk = signup_ids[chunk_start : chunk_start + 5000]
        for signup_id, minutes, starts_at in db.execute(
            select(Reminder.signup_id, Reminder.offset_minutes, Reminder.event_starts_at).where(
                Reminder.signup_id.in_(chunk)
            )
        ):
            decided[signup_id].add((minutes, starts_at))
    return decided


def _skip_reason(candidate: _Candidate, minutes: int, due: list[int], now: datetime) -> str | None:
    starts_at = candidate.event.starts_at
    if starts_at <= now:
        return "the event had started"
    confirmed_at = candidate.signup.confirmed_at or candidate.signup.created_at
    if starts_at - timedelta(minutes=minutes) < confirmed_at:
        return "signed up after it was due"
    if minutes != min(due):
        return "a later reminder is due too"
    return None


def _queue(db: Session, candidate: _Candidate, minutes: int, now: datetime, tz: ZoneInfo) -> int:
    event, signup = candidate.event, candidate.signup
    when = local_text(event.starts_at, tz)
    place_zh = f"，地点：{event.place}" if event.place else ""
    place_en = f" at {event.place}" if event.place else ""
    key = f"reminder:{signup.id}:{minutes}m:{event.starts_at.isoformat()}"
    outbox_id = enqueue_push(
        db,
        recipient_openid=candidate.resident.openid,
        resident_id=candidate.resident.id,
        kind=KIND,
        payload={
            "text": {
                "zh": f"活动提醒：“{event.title}”将于 {when} 开始{place_zh}。"
                f"签到码：{signup.checkin_code}。如不能参加，请回复“取消报名 {event.id}”。",
                "en": f"Reminder: '{event.title}' starts {when}{place_en}. "
                f"Check-in code: {signup.checkin_code}. "
                f"If you cannot come, reply 'cancel {event.id}'.",
            },
            "fields": {
                "event_id": event.id,
                "signup_id": signup.id,
                "title": event.title,
                "starts_at": when,
                "place": event.place,
                "checkin_code": signup.checkin_code,
            },
        },
        idempotency_key=key,
        now=now,
        expires_at=event.starts_at,
    )
    if outbox_id is None:
        # Only a second sweep running at the same moment (two `scheduler --once` crons)
        # gets here; failing rolls this one back and the other's work stands.
        raise ConcurrentSweep(f"reminder {key} was queued by another sweep just now")
    return outbox_id


def still_worth_sending(db: Session, outbox_id: int) -> str | None:
    """Why a queued reminder must not go out any more, or None if it still should.

    The sign-up may have been cancelled, or the event cancelled or moved, since the
    reminder was queued; the worker asks just before sending.
    """
    row = db.execute(
        select(Reminder, Signup, Event)
        .join(Signup, Signup.id == Reminder.signup_id)
        .join(Event, Event.id == Signup.event_id)
        .where(Reminder.outbox_id == outbox_id)
    ).first()
    if row is None:
        return None
    reminder, signup, event = row
    if signup.status != CONFIRMED:
        return "the sign-up was cancelled"
    if event.status != PUBLISHED:
        return f"the event is {event.status}"
    if event.starts_at != reminder.event_starts_at:
        return "the event moved; a reminder for the new time is queued separately"
    return None
