"""Fan-out: a broadcast becomes outbox rows, one per recipient or one per mass request."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Integer,
    SQLColumnExpression,
    String,
    any_,
    cast,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from models.audit import Actor, AuditAction, AuditObject, record
from models.base import ID_MAX, UTCDateTime, local_text
from models.broadcasts.audience import (
    REACHABLE,
    Audience,
    AudienceCount,
    audience_conditions,
    count_audience,
    normalize_audience,
    resolve_audience,
)
from models.broadcasts.mass import (
    WECHAT_TAG,
    MassMethod,
    MassPlan,
    check_mass_quota,
    mass_intent,
    mass_tag_name,
    plan_mass,
)
from models.broadcasts.messages import announceable_event, as_residents_see, event_announcement
from models.broadcasts.queries import due_broadcasts
from models.broadcasts.records import (
    Broadcast,
    BroadcastError,
    BroadcastRecipient,
    BroadcastSettings,
    BroadcastStatus,
)
from models.events.staff import SCHEDULE_HORIZON
from models.events.tables import Event
from models.push.outbox import OutboxMessage
from models.push.registry import PushKind
from models.push.rows import enqueue_push, insert_push_rows
from models.residents import Resident

# A text broadcast nobody could deliver within this time (the resident never wrote to
# us) is not worth sending with a reply weeks later; an event's expires when sign-up closes.
TEXT_VALID_FOR = timedelta(days=3)
BATCH_SIZE = 2000


@dataclass(frozen=True)
class FanOut:
    broadcast_id: int
    recipients: int
    rows: int
    mass_requests: int = 0
    singles: int = 0


Progress = Callable[[int], None]


def prepare(
    db: Session,
    broadcast: Broadcast,
    now: datetime,
    settings: BroadcastSettings,
    categories: Collection[str] | None = None,
) -> tuple[dict[str, str], Audience, MassPlan | None]:
    """What a mass broadcast would send right now: its text, audience and mass plan
    (checked); a plain one needs no list of its residents (:func:`fan_out`)."""
    texts = _texts(db, broadcast, now, settings)
    audience = resolve_audience(db, broadcast.audience, now, categories)
    plan = None
    if broadcast.mass:
        plan = plan_mass(audience, settings)
        check_mass_quota(db, plan, settings, now, broadcast_id=broadcast.id)
    return texts, audience, plan


def _texts(
    db: Session, broadcast: Broadcast, now: datetime, settings: BroadcastSettings
) -> dict[str, str]:
    """The message in both languages: staff's text, or the event's announcement as it
    reads now (a closed event refused)."""
    if broadcast.event_id is not None:
        return event_announcement(db, announceable_event(db, broadcast.event_id, now), settings.tz)
    return {"zh": broadcast.text_zh, "en": broadcast.text_en}


def fan_out(
    db: Session,
    broadcast: Broadcast,
    now: datetime,
    settings: BroadcastSettings,
    progress: Progress | None = None,
    categories: Collection[str] | None = None,
) -> FanOut:
    """Queue a broadcast: resolve its audience now, write its outbox rows, mark it sent.

    Refusals (a closed event, an audience gone wrong, a mass quota) raise BroadcastError
    before anything is written. Writing again is harmless: every row has its key.

    A plain broadcast's rows are written inside the database, batch by batch of its
    audience in id order (:func:`_write_rows`), so no resident's row crosses the wire:
    a million rows in well under a minute, ``progress`` told after each batch.
    """
    if broadcast.mass:
        return _fan_out_mass(db, broadcast, now, settings, progress, categories)
    texts = _texts(db, broadcast, now, settings)
    stored, conditions = audience_conditions(db, broadcast.audience, now, categories)
    counted = count_audience(db, stored, now, categories)
    broadcast.text_zh, broadcast.text_en = texts["zh"], texts["en"]
    expires_at = _expiry(db, broadcast, now)
    shown = as_residents_see(texts)
    reached = [*conditions, *REACHABLE]
    _write_rows(db, broadcast, reached, counted.size, shown, now, expires_at, progress)
    _mark_sent(db, broadcast, now, counted.size, counted)
    return FanOut(broadcast_id=broadcast.id, recipients=counted.size, rows=counted.size)


def _fan_out_mass(
    db: Session,
    broadcast: Broadcast,
    now: datetime,
    settings: BroadcastSettings,
    progress: Progress | None,
    categories: Collection[str] | None,
) -> FanOut:
    """A mass broadcast: a row per mass-send request, and a plain row for each resident
    alone in their language (mass/send needs two openids)."""
    texts, audience, plan = prepare(db, broadcast, now, settings, categories)
    assert plan is not None
    broadcast.text_zh, broadcast.text_en = texts["zh"], texts["en"]
    shown = as_residents_see(texts)
    expires_at = _expiry(db, broadcast, now)
    singles = [_among(db, [recipient.resident_id for recipient in plan.singles])]
    _write_rows(db, broadcast, singles, len(plan.singles), shown, now, expires_at, progress)
    rows = len(plan.singles) + _write_mass(db, broadcast, plan, shown, now, expires_at, progress)
    _mark_sent(db, broadcast, now, audience.size, audience)
    return FanOut(
        broadcast_id=broadcast.id,
        recipients=audience.size,
        rows=rows,
        mass_requests=len(plan.requests),
        singles=len(plan.singles),
    )


def _mark_sent(
    db: Session,
    broadcast: Broadcast,
    now: datetime,
    recipients: int,
    excluded: Audience | AudienceCount,
) -> None:
    broadcast.status = BroadcastStatus.SENT
    broadcast.sent_at = now
    broadcast.error = None
    broadcast.recipients = recipients
    broadcast.excluded_unsubscribed = excluded.excluded_unsubscribed
    broadcast.excluded_opted_out = excluded.excluded_opted_out
    db.flush()


def _expiry(db: Session, broadcast: Broadcast, now: datetime) -> datetime:
    if broadcast.event_id is not None:
        event = db.get(Event, broadcast.event_id)
        assert event is not None
        return event.closes_at
    return now + TEXT_VALID_FOR


def _fields(broadcast: Broadcast) -> dict[str, Any]:
    return {"broadcast_id": broadcast.id, "event_id": broadcast.event_id}


def broadcast_payload(broadcast: Broadcast, texts: dict[str, str]) -> dict[str, Any]:
    """One resident's broadcast row: the message as residents see it, and its template
    values (models/push/registry.py)."""
    return {"text": texts, "fields": _fields(broadcast)}


def _write_rows(
    db: Session,
    broadcast: Broadcast,
    reached: list[ColumnElement[bool]],
    total: int,
    texts: dict[str, str],
    now: datetime,
    expires_at: datetime,
    progress: Progress | None,
) -> None:
    """One outbox row per resident ``reached`` selects (``total`` of them), built by the
    row builder's set-based form; keys make a re-run a no-op.

    Batch by batch of :data:`BATCH_SIZE` residents in id order: the id that ends a batch
    is found first (an index walk), then its rows are one INSERT ... SELECT.
    """
    per_row: dict[str, SQLColumnExpression[Any]] = {
        "resident_id": Resident.id,
        "recipient_openid": Resident.openid,
        "idempotency_key": literal(f"broadcast:{broadcast.id}:", String)
        + cast(Resident.id, String),
    }
    payload = broadcast_payload(broadcast, texts)
    written, after = 0, 0
    while written < total:
        batch = min(BATCH_SIZE, total - written)
        last = db.execute(
            select(Resident.id)
            .where(*reached, Resident.id > after)
            .order_by(Resident.id)
            .offset(batch - 1)
            .limit(1)
        ).scalar_one_or_none()
        if last is None:  # fewer than counted: someone left the audience meanwhile
            last, batch = ID_MAX, total - written
        insert_push_rows(
            db,
            kind=PushKind.BROADCAST,
            payload=payload,
            now=now,
            per_row=per_row,
            where=[*reached, Resident.id > after, Resident.id <= last],
            expires_at=expires_at,
        )
        written, after = written + batch, last
        if progress is not None:
            progress(batch)


def _among(db: Session, ids: Sequence[int]) -> ColumnElement[bool]:
    """Residents whose id is one of ``ids``; on PostgreSQL one array parameter instead
    of thousands of placeholders."""
    if db.get_bind().dialect.name == "postgresql":
        return Resident.id == any_(literal(list(ids), postgresql.ARRAY(Integer)))
    return Resident.id.in_(ids)


def _write_mass(
    db: Session,
    broadcast: Broadcast,
    plan: MassPlan,
    texts: dict[str, str],
    now: datetime,
    expires_at: datetime,
    progress: Progress | None,
) -> int:
    for number, request in enumerate(plan.requests, start=1):
        key = f"broadcast:{broadcast.id}:mass:{number}"
        name = mass_tag_name(broadcast.id, now)
        payload: dict[str, Any] = {
            "text": texts,
            "fields": _fields(broadcast),
            **mass_intent(request, name, broadcast.id, number),
        }
        target = f"{WECHAT_TAG}:{name}" if request.method == MassMethod.BY_TAG else request.target
        outbox_id = enqueue_push(
            db,
            recipient_openid=target,
            kind=PushKind.MASS,
            payload=payload,
            idempotency_key=key,
            now=now,
            expires_at=expires_at,
        )
        if outbox_id is None:
            outbox_id = db.execute(
                select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key)
            ).scalar_one()
        columns = {
            "broadcast_id": literal(broadcast.id, Integer),
            "resident_id": Resident.id,
            "outbox_id": literal(outbox_id, Integer),
            "created_at": literal(now, UTCDateTime()),
        }
        on_postgresql = db.get_bind().dialect.name == "postgresql"
        insert = postgresql.insert if on_postgresql else sqlite.insert
        ids = [recipient.resident_id for recipient in request.recipients]
        for start in range(0, len(ids), BATCH_SIZE):
            batch = ids[start : start + BATCH_SIZE]
            db.execute(
                insert(BroadcastRecipient)
                .from_select(list(columns), select(*columns.values()).where(_among(db, batch)))
                .on_conflict_do_nothing(index_elements=["broadcast_id", "resident_id"])
            )
            if progress is not None:
                progress(len(batch))
    return len(plan.requests)


def send_due_broadcasts(db: Session, now: datetime, settings: BroadcastSettings) -> int:
    """Fan out every scheduled broadcast that is due; returns how many went out.

    One that can no longer go (its event closed, a mass quota spent) is marked refused
    with the reason, so it is neither retried forever nor lost silently.
    """
    sent = 0
    while True:
        due = due_broadcasts(db, now)
        if not due:
            return sent
        for broadcast in due:
            try:
                with db.begin_nested():
                    fan_out(db, broadcast, now, settings)
                sent += 1
            except BroadcastError as refusal:
                broadcast.status = BroadcastStatus.REFUSED
                broadcast.error = str(refusal)
        db.flush()


STORED_ZONE = ZoneInfo("UTC")


def check_send_at(send_at: datetime, now: datetime, tz: ZoneInfo) -> None:
    """Refuse a time staff cannot mean for a scheduled broadcast, shown in ``tz``.

    It must be after ``now`` (a time already passed would go out at once, which staff ask
    for by leaving out --at) and at most :data:`SCHEDULE_HORIZON` ahead: further is a typo,
    and this is checked before the mass quotas, whose day and month periods overflow near
    year 9999.
    """
    if send_at <= now:
        raise BroadcastError(f"--at {local_text(send_at, tz)} ({tz.key}) is not in the future")
    latest = now + SCHEDULE_HORIZON
    if send_at > latest:
        raise BroadcastError(
            f"--at {local_text(send_at, tz)} ({tz.key}) is more than a year ahead; "
            f"the latest is {local_text(latest, tz)}"
        )


def create_broadcast(
    db: Session,
    actor: Actor,
    *,
    texts: dict[str, str],
    audience: str,
    now: datetime,
    scheduled_at: datetime | None = None,
    event_id: int | None = None,
    mass: bool = False,
) -> Broadcast:
    """Record a broadcast to send now (then call :func:`fan_out`) or at ``scheduled_at``,
    audited as sent or scheduled by ``actor``."""
    if scheduled_at is not None:
        check_send_at(scheduled_at, now, STORED_ZONE)
    broadcast = Broadcast(
        text_zh=texts["zh"],
        text_en=texts["en"],
        event_id=event_id,
        audience=normalize_audience(audience),
        mass=mass,
        status=BroadcastStatus.SCHEDULED,
        scheduled_at=scheduled_at or now,
        recipients=0,
        excluded_unsubscribed=0,
        excluded_opted_out=0,
        created_by=actor.label[:64],
        created_at=now,
    )
    db.add(broadcast)
    db.flush()
    after = {
        "audience": broadcast.audience,
        "event_id": event_id,
        "mass": mass,
        "scheduled_at": None if scheduled_at is None else scheduled_at.astimezone(UTC),
        "text": broadcast.text_zh,
    }
    action = AuditAction.BROADCAST_SEND if scheduled_at is None else AuditAction.BROADCAST_SCHEDULE
    record(db, actor, action, AuditObject.BROADCAST, broadcast.id, now, after=after)
    return broadcast


def cancel_broadcast(db: Session, actor: Actor, broadcast_id: int, now: datetime) -> Broadcast:
    """Stop a scheduled broadcast before it goes out.

    The row is locked first, so a cancel racing the scheduler's send either wins (the
    scheduler skips it) or waits and then finds it sent, and says so: once outbox rows
    exist the broadcast is on its way and cannot be called back here.
    """
    broadcast = db.execute(
        select(Broadcast).where(Broadcast.id == broadcast_id).with_for_update()
    ).scalar_one_or_none()
    if broadcast is None:
        raise BroadcastError(f"there is no broadcast {broadcast_id}")
    if broadcast.status != BroadcastStatus.SCHEDULED:
        raise BroadcastError(
            f"broadcast {broadcast_id} is {broadcast.status}, not scheduled: "
            "only a broadcast that has not gone out can be cancelled"
        )
    broadcast.status = BroadcastStatus.CANCELLED
    broadcast.error = f"cancelled at {now.isoformat(timespec='seconds')} by {actor.label}"
    db.flush()
    record(
        db,
        actor,
        AuditAction.BROADCAST_CANCEL,
        AuditObject.BROADCAST,
        broadcast.id,
        now,
        before={
            "status": BroadcastStatus.SCHEDULED,
            "scheduled_at": broadcast.scheduled_at.astimezone(UTC),
        },
        after={"status": BroadcastStatus.CANCELLED},
    )
    return broadcast
