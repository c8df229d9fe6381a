"""The staff digest: each morning, what came in, what waits, and what is on today and tomorrow.

Composed in both languages like every push; each staff member reads it in their own.
"New" means created in the 24 hours before the digest, so consecutive daily digests
neither miss nor repeat a need. "Waiting" means still open (submitted, acknowledged or in
progress) more than three days after it was raised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.events.queries import Occupancy, occupancies
from models.events.tables import Event, EventStatus
from models.needs.categories import CategoryName, category_names
from models.needs.notices import status_name
from models.needs.tables import OPEN_STATUSES, Need, need_ref
from models.push.outbox import OutboxMessage
from models.push.registry import PushKind
from models.push.rows import enqueue_push
from models.residents import get_or_create_resident
from texts.catalog import LINES, Both, both

NEW_WINDOW = timedelta(hours=24)
WAITING_AFTER = timedelta(days=3)
WAITING_LISTED = 10


@dataclass(frozen=True)
class WaitingNeed:
    ref: str
    category: str
    status: str
    days: int


@dataclass(frozen=True)
class DayEvents:
    day: date
    events: list[tuple[Event, Occupancy]]


@dataclass(frozen=True)
class DigestFacts:
    day: date
    new_by_category: list[tuple[str, int]]
    waiting_total: int
    waiting_by_status: list[tuple[str, int]]
    waiting: list[WaitingNeed]
    today: DayEvents
    tomorrow: DayEvents

    @property
    def new_total(self) -> int:
        return sum(count for _, count in self.new_by_category)


def digest_facts(db: Session, now: datetime, tz: ZoneInfo) -> DigestFacts:
    new = db.execute(
        select(Need.category, func.count())
        .where(Need.created_at > now - NEW_WINDOW, Need.created_at <= now)
        .group_by(Need.category)
        .order_by(func.count().desc(), Need.category)
    ).all()
    waiting_filter = (Need.status.in_(OPEN_STATUSES), Need.created_at < now - WAITING_AFTER)
    by_status = dict(
        db.execute(
            select(Need.status, func.count()).where(*waiting_filter).group_by(Need.status)
        ).all()
    )
    oldest = db.execute(
        select(Need.id, Need.category, Need.status, Need.created_at)
        .where(*waiting_filter)
        .order_by(Need.created_at, Need.id)
        .limit(WAITING_LISTED)
    ).all()
    local_today = now.astimezone(tz).date()
    return DigestFacts(
        day=local_today,
        new_by_category=[(category, int(count)) for category, count in new],
        waiting_total=sum(by_status.values()),
        waiting_by_status=[(s, int(by_status[s])) for s in OPEN_STATUSES if s in by_status],
        waiting=[
            WaitingNeed(need_ref(need_id), category, status, (now - created_at).days)
            for need_id, category, status, created_at in oldest
        ],
        today=_events_on(db, local_today, tz),
        tomorrow=_events_on(db, local_today + timedelta(days=1), tz),
    )


def _events_on(db: Session, day: date, tz: ZoneInfo) -> DayEvents:
    start = datetime.combine(day, time(), tzinfo=tz)
    events = list(
        db.execute(
            select(Event)
            .where(
                Event.status == EventStatus.PUBLISHED,
                Event.starts_at >= start,
                Event.starts_at < start + timedelta(days=1),
            )
            .order_by(Event.starts_at, Event.id)
        ).scalars()
    )
    taken = occupancies(db, events)
    return DayEvents(day, [(event, taken[event.id]) for event in events])


def compose_digest(
    db: Session, now: datetime, tz: ZoneInfo, categories: Sequence[CategoryName]
) -> dict[str, str]:
    """The digest in both languages (the worker picks each staff member's)."""
    return render_digest(digest_facts(db, now, tz), tz, categories)


def render_digest(
    facts: DigestFacts, tz: ZoneInfo, categories: Sequence[CategoryName]
) -> dict[str, str]:
    names = category_names(categories)

    def category(key: str) -> Both:
        return names.get(key, Both(key, key))

    def counts(items: Sequence[tuple[Both, int]]) -> Both:
        listed = (both("push_digest_count", name=name, count=n) for name, n in items)
        return both("push_digest_list_separator").join(listed)

    lines = [both("push_digest_title", day=facts.day.isoformat())]
    if facts.new_total:
        new = [(category(k), n) for k, n in facts.new_by_category]
        lines.append(both("push_digest_new", total=facts.new_total, counts=counts(new)))
    else:
        lines.append(both("push_digest_new_none"))
    if facts.waiting_total:
        waiting = [(status_name(s), n) for s, n in facts.waiting_by_status]
        lines.append(both("push_digest_waiting", total=facts.waiting_total, counts=counts(waiting)))
        for need in facts.waiting:
            lines.append(
                both(
                    "push_digest_waiting_need",
                    ref=need.ref,
                    category=category(need.category),
                    status=status_name(need.status),
                    days=need.days,
                )
            )
        more = facts.waiting_total - len(facts.waiting)
        if more > 0:
            lines.append(both("push_digest_waiting_more", more=more))
    else:
        lines.append(both("push_digest_waiting_none"))
    for day, title in (
        (facts.today, both("push_digest_today")),
        (facts.tomorrow, both("push_digest_tomorrow")),
    ):
        if day.events:
            lines.append(both("push_digest_events", day=title))
        else:
            lines.append(both("push_digest_events_none", day=title))
        for event, taken in day.events:
            lines.append(
                both(
                    "push_digest_event",
                    at=event.starts_at.astimezone(tz).strftime("%H:%M"),
                    title=event.title,
                    event_id=event.id,
                    confirmed=taken.confirmed,
                    capacity=event.capacity,
                    waitlisted=taken.waitlisted,
                )
            )
    return LINES.join(lines).as_dict()


def digest_due_at(day: date, digest_time: str, tz: ZoneInfo) -> datetime:
    """When ``day``'s digest is due: ``digest_time`` ("HH:MM") local on that day."""
    hours, minutes = (int(part) for part in digest_time.split(":"))
    return datetime.combine(day, time(hours, minutes), tzinfo=tz)


def digest_payload(
    facts: DigestFacts, tz: ZoneInfo, categories: Sequence[CategoryName]
) -> dict[str, Any]:
    """The digest's text and template values (models/push/registry.py)."""
    return {
        "text": render_digest(facts, tz, categories),
        "fields": {
            "date": facts.day.isoformat(),
            "new_needs": facts.new_total,
            "waiting_needs": facts.waiting_total,
            "events_today": len(facts.today.events),
            "events_tomorrow": len(facts.tomorrow.events),
        },
    }


def queue_digest(
    db: Session,
    now: datetime,
    tz: ZoneInfo,
    openids: Sequence[str],
    digest_time: str,
    categories: Sequence[CategoryName],
) -> int:
    """Queue today's digest to each staff openid once its time has passed; returns how many.

    Safe to call every minute: the key ``digest:<local date>:<openid>`` makes later
    calls that day queue nothing, and the digest is only composed while one is missing.
    An undelivered digest expires when the next one is due.
    """
    wanted = list(dict.fromkeys(openid.strip() for openid in openids if openid.strip()))
    today = now.astimezone(tz).date()
    due = digest_due_at(today, digest_time, tz)
    if not wanted or now < due:
        return 0
    keys = {openid: f"digest:{today.isoformat()}:{openid}" for openid in wanted}
    queued = set(
        db.execute(
            select(OutboxMessage.idempotency_key).where(
                OutboxMessage.idempotency_key.in_(list(keys.values()))
            )
        ).scalars()
    )
    missing = [openid for openid in wanted if keys[openid] not in queued]
    if not missing:
        return 0
    payload = digest_payload(digest_facts(db, now, tz), tz, categories)
    count = 0
    for openid in missing:
        resident = get_or_create_resident(db, openid, now, followed=False)
        row = enqueue_push(
            db,
            recipient_openid=openid,
            kind=PushKind.DIGEST,
            payload=payload,
            idempotency_key=keys[openid],
            now=now,
            resident_id=resident.id,
            expires_at=digest_due_at(today + timedelta(days=1), digest_time, tz),
        )
        count += row is not None
    return count
