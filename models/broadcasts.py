"""Staff broadcasts: who they reach, what they say, and how they become outbox rows.

A broadcast is recorded first (models.pushes.Broadcast), then fanned out: one outbox row
per recipient, or for ``mass`` broadcasts one row per WeChat mass-send request. The
audience is resolved when the broadcast goes out, so a scheduled broadcast reaches the
residents who match at its time, and a resident who unfollowed (``subscribed`` false) or
sent 退订 (``broadcast_opt_out``) is never written. One who sends 退订 after fan-out gets
none of the rows still queued either: the worker, the next reply and mass sends check the
opt-out again right before delivery (:func:`mass_send_now`). Reminders and need updates
are other kinds of push and do not look at the opt-out.

Mass sends spend WeChat quotas that a retry or a second staff member could overspend, so
they are checked before anything is written, and refused with the reason:

- a subscription account may send 1 mass broadcast a day (local day);
- a service account may reach each follower with at most 4 mass broadcasts a month;
  deliveries are counted per resident in ``broadcast_recipient``;
- at most 60 mass-send requests a minute.

How a mass send reaches its audience: everyone, when nobody opted out, is one ``sendall``
to all followers. Anyone else is, on a service account, openid lists per language
(``mass/send``); on a subscription account, which WeChat allows no openid lists, a WeChat
user tag holding exactly the audience and one ``sendall`` to that tag. The tag is one per
broadcast, named by :func:`mass_tag_name`; the worker fills it right before sending
(scheduler/mass_tags.py), since models/ never talks to WeChat.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    any_,
    cast,
    func,
    literal,
    or_,
    select,
    text,
    union,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, UTCDateTime, local_text
from models.events.errors import EventError
from models.events.queries import get_event, occupancy
from models.events.staff import SCHEDULE_HORIZON
from models.events.tables import (
    LIVE_SIGNUP_STATUSES,
    Attendance,
    Event,
    EventStatus,
    EventTag,
    Signup,
)
from models.needs.tables import Need
from models.outbox import DEAD, EXPIRED, PENDING, OutboxMessage, enqueue_push
from models.pushes import CANCELLED, REFUSED, SCHEDULED, SENT, Broadcast
from models.residents import Resident
from texts.catalog import LINES, both

BROADCAST_KIND = "broadcast"
MASS_KIND = "mass"

ALL = "all"
TAG = "tag"
SIGNED_UP = "signed-up"
ATTENDED = "attended"
CATEGORY_INTEREST = "category-interest"
AUDIENCE_KINDS = (ALL, TAG, SIGNED_UP, ATTENDED, CATEGORY_INTEREST)
AUDIENCE_HELP = "all, tag:T, signed-up:ID, attended:ID or category-interest:C"

MAX_TEXT = 600
# A text broadcast nobody could deliver within this time (the resident never wrote to
# us) is not worth sending with a reply weeks later; an event's expires when sign-up closes.
TEXT_VALID_FOR = timedelta(days=3)
BATCH_SIZE = 2000

SERVICE = "service"
SUBSCRIPTION = "subscription"
MASS_OPENIDS_MAX = 10_000
MASS_OPENIDS_MIN = 2
MASS_PER_RESIDENT_PER_MONTH = 4
MASS_PER_DAY_SUBSCRIPTION = 1
MASS_REQUESTS_PER_MINUTE = 60
# How a mass request is addressed (MassRequest.method).
TO_ALL = "all"
BY_TAG = "tag"
BY_OPENIDS = "openids"
# Outbox rows of tag sends name their tag after this, e.g. "wechat-tag:aixiang-20260501-b7".
WECHAT_TAG = "wechat-tag"
# The WeChat tags the project made for mass sends, and only those: "aixiang-<UTC day>-b<id>".
MASS_TAG_PATTERN = re.compile(r"aixiang-(\d{8})-b(\d+)")
# Serialises quota checks of concurrent mass sends on PostgreSQL (SQLite's BEGIN
# IMMEDIATE already does); any constant the project does not use elsewhere.
MASS_LOCK_KEY = 0x41584D53


class BroadcastError(ValueError):
    """A broadcast the rules refuse; the message is one English line for staff."""


class BroadcastRecipient(Base):
    """One resident a mass-send request was addressed to, for WeChat's monthly limit."""

    __tablename__ = "broadcast_recipient"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "resident_id"),
        Index("ix_broadcast_recipient_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcast.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"), index=True)
    created_at: Mapped[datetime]


@dataclass(frozen=True)
class BroadcastSettings:
    """What fan-out needs from the configuration (models/ reads no config itself)."""

    tz: ZoneInfo
    account_type: str = SERVICE
    default_language: str = "zh"


# Audiences ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recipient:
    resident_id: int
    openid: str
    language: str | None


@dataclass(frozen=True)
class Audience:
    spec: str
    recipients: list[Recipient]
    excluded_unsubscribed: int = 0
    excluded_opted_out: int = 0

    @property
    def size(self) -> int:
        return len(self.recipients)


def parse_audience(spec: str) -> tuple[str, str]:
    """(kind, argument) of an audience spec such as ``tag:women``; one-line error if bad."""
    cleaned = spec.strip()
    kind, colon, argument = cleaned.partition(":")
    kind, argument = kind.strip().lower(), argument.strip()
    if kind == ALL and not colon:
        return ALL, ""
    if kind not in AUDIENCE_KINDS or kind == ALL:
        raise BroadcastError(f"--audience {spec!r} is not one of {AUDIENCE_HELP}")
    if not argument:
        raise BroadcastError(f"--audience {spec!r}: say which after the colon, e.g. {kind}:...")
    if kind in (SIGNED_UP, ATTENDED) and not argument.lstrip("#").isdecimal():
        raise BroadcastError(f"--audience {spec!r}: {argument!r} is not an event id")
    if kind in (SIGNED_UP, ATTENDED):
        argument = str(int(argument.lstrip("#")))
    if kind in (TAG, CATEGORY_INTEREST):
        argument = argument.lower()
    return kind, argument


def normalize_audience(spec: str) -> str:
    kind, argument = parse_audience(spec)
    return kind if kind == ALL else f"{kind}:{argument}"


def resolve_audience(db: Session, spec: str, categories: Collection[str] | None = None) -> Audience:
    """The residents ``spec`` reaches now, and how many it leaves out and why.

    ``categories`` (the configured need category keys) makes an unknown category an
    error; unsubscribed residents are counted before opted-out ones, so each excluded
    resident is counted once.
    """
    kind, argument = parse_audience(spec)
    query = select(
        Resident.id,
        Resident.openid,
        Resident.language,
        Resident.subscribed,
        Resident.broadcast_opt_out,
    )
    if kind != ALL:
        query = query.where(Resident.id.in_(_candidates(db, kind, argument, categories)))
    recipients: list[Recipient] = []
    unsubscribed = opted_out = 0
    for resident_id, openid, language, subscribed, opt_out in db.execute(
        query.order_by(Resident.id)
    ):
        if not subscribed:
            unsubscribed += 1
        elif opt_out:
            opted_out += 1
        else:
            recipients.append(Recipient(resident_id, openid, language))
    return Audience(
        spec=kind if kind == ALL else f"{kind}:{argument}",
        recipients=recipients,
        excluded_unsubscribed=unsubscribed,
        excluded_opted_out=opted_out,
    )


def _candidates(db: Session, kind: str, argument: str, categories: Collection[str] | None) -> Any:
    if kind == TAG:
        known = db.execute(select(EventTag.tag).where(EventTag.tag == argument).limit(1)).first()
        if known is None:
            raise BroadcastError(f"--audience tag:{argument}: no event is tagged {argument!r}")
        tagged = select(EventTag.event_id).where(EventTag.tag == argument)
        return union(
            select(Signup.resident_id).where(
                Signup.event_id.in_(tagged), Signup.status.in_(LIVE_SIGNUP_STATUSES)
            ),
            select(Attendance.resident_id).where(Attendance.event_id.in_(tagged)),
        )
    if kind in (SIGNED_UP, ATTENDED):
        event_id = int(argument)
        try:
            get_event(db, event_id)
        except EventError:
            raise BroadcastError(
                f"--audience {kind}:{event_id}: there is no event {event_id}"
            ) from None
        if kind == SIGNED_UP:
            return select(Signup.resident_id).where(
                Signup.event_id == event_id, Signup.status.in_(LIVE_SIGNUP_STATUSES)
            )
        return select(Attendance.resident_id).where(Attendance.event_id == event_id)
    if categories is not None and argument not in categories:
        raise BroadcastError(
            f"--audience category-interest:{argument}: unknown category; "
            f"use one of {', '.join(sorted(categories))}"
        )
    return select(Need.resident_id).where(Need.category == argument, Need.resident_id.is_not(None))


# What residents read -------------------------------------------------------------------------


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


# Creating and sending ------------------------------------------------------------------------


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
    *,
    texts: dict[str, str],
    audience: str,
    now: datetime,
    scheduled_at: datetime | None = None,
    event_id: int | None = None,
    mass: bool = False,
    created_by: str | None = None,
) -> Broadcast:
    """Record a broadcast to send now (then call :func:`fan_out`) or at ``scheduled_at``."""
    if scheduled_at is not None:
        check_send_at(scheduled_at, now, STORED_ZONE)
    broadcast = Broadcast(
        text_zh=texts["zh"],
        text_en=texts["en"],
        event_id=event_id,
        audience=normalize_audience(audience),
        mass=mass,
        status=SCHEDULED,
        scheduled_at=scheduled_at or now,
        recipients=0,
        excluded_unsubscribed=0,
        excluded_opted_out=0,
        created_by=(created_by or "")[:64] or None,
        created_at=now,
    )
    db.add(broadcast)
    db.flush()
    return broadcast


@dataclass(frozen=True)
class MassRequest:
    """One mass-send call: to every follower, to a WeChat tag, or to an openid list."""

    target: str
    language: str
    recipients: list[Recipient]
    method: str = BY_OPENIDS

    @property
    def openids(self) -> list[str]:
        return [r.openid for r in self.recipients]


@dataclass(frozen=True)
class MassPlan:
    requests: list[MassRequest]
    # Alone in their language: mass/send needs 2 openids, so they get a normal broadcast.
    singles: list[Recipient] = field(default_factory=list)


def plan_mass(audience: Audience, settings: BroadcastSettings) -> MassPlan:
    """The mass-send requests that reach exactly ``audience``.

    Everyone, with nobody opted out, is one ``sendall`` to all followers. Otherwise a
    service account sends openid lists of at most 10,000 per language, so each resident
    reads their own language; it does not use a tag, which would cost a tagging call per
    50 residents, a shared WeChat state to keep right, and one text for both languages.
    A subscription account, which WeChat allows no openid lists, sends one ``sendall`` to
    a tag of exactly the audience, in both languages.
    """
    if audience.size == 0:
        return MassPlan([])
    if audience.spec == ALL and audience.excluded_opted_out == 0:
        return MassPlan([MassRequest(ALL, "both", audience.recipients, TO_ALL)])
    if settings.account_type == SUBSCRIPTION:
        return MassPlan([MassRequest(WECHAT_TAG, "both", audience.recipients, BY_TAG)])
    by_language: dict[str, list[Recipient]] = {"zh": [], "en": []}
    for recipient in audience.recipients:
        language = recipient.language if recipient.language in by_language else None
        by_language[language or settings.default_language].append(recipient)
    requests: list[MassRequest] = []
    singles: list[Recipient] = []
    for language, recipients in by_language.items():
        if len(recipients) < MASS_OPENIDS_MIN:
            singles.extend(recipients)
            continue
        for start, chunk in _even_chunks(recipients, MASS_OPENIDS_MAX):
            target = f"openids:{language}:{start + 1}-{start + len(chunk)}"
            requests.append(MassRequest(target, language, chunk, BY_OPENIDS))
    return MassPlan(requests, singles)


def _even_chunks(items: list[Recipient], most: int) -> Iterator[tuple[int, list[Recipient]]]:
    """Chunks of at most ``most``, as even as possible, so none is left with one openid."""
    count = math.ceil(len(items) / most)
    size = math.ceil(len(items) / count)
    for start in range(0, len(items), size):
        yield start, items[start : start + size]


def mass_request_body(
    request: MassRequest, texts: dict[str, str], broadcast_id: int, number: int
) -> dict[str, Any]:
    """The JSON WeChat gets. ``clientmsgid`` makes WeChat drop a retried duplicate.

    A tag send's ``tag_id`` is WeChat's number for the tag, known only once the worker has
    made the tag; the worker adds it (and never wechatpy's obsolete ``group_id``).
    """
    content = (
        f"{texts['zh']}\n\n{texts['en']}" if request.language == "both" else texts[request.language]
    )
    body: dict[str, Any] = {
        "msgtype": "text",
        "text": {"content": content},
        "clientmsgid": f"aixiang-b{broadcast_id}-r{number}",
    }
    if request.method == TO_ALL:
        body["filter"] = {"is_to_all": True}
    elif request.method == BY_TAG:
        body["filter"] = {"is_to_all": False}
    else:
        body["touser"] = request.openids
    return body


def mass_tag_name(broadcast_id: int, now: datetime) -> str:
    """The WeChat tag a broadcast's tag send uses: one per broadcast, so two broadcasts
    never share a tag's members, with its UTC day, so the worker can delete old ones
    (WeChat allows 100 tags an account). At most 30 characters, WeChat's limit."""
    return f"aixiang-{now.astimezone(UTC):%Y%m%d}-b{broadcast_id}"


def mass_tag_day(name: str) -> date | None:
    """The UTC day a tag of :func:`mass_tag_name` was named on; None for any other tag."""
    matched = MASS_TAG_PATTERN.fullmatch(name)
    if matched is None:
        return None
    return datetime.strptime(matched.group(1), "%Y%m%d").replace(tzinfo=UTC).date()


def check_mass_quota(
    db: Session,
    plan: MassPlan,
    settings: BroadcastSettings,
    now: datetime,
    send_at: datetime | None = None,
    broadcast_id: int | None = None,
) -> None:
    """Refuse (BroadcastError with the reason) a mass send WeChat's quotas would not allow.

    ``send_at`` is when it will go (a scheduled broadcast); the per-minute limit is only
    known at sending time, so it is checked when ``send_at`` is now.
    """
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MASS_LOCK_KEY})
    when = send_at or now
    if settings.account_type == SUBSCRIPTION:
        other = _mass_broadcast_on_day(db, when, settings.tz, broadcast_id)
        if other is not None:
            raise BroadcastError(
                f"--mass: a subscription account may mass-send {MASS_PER_DAY_SUBSCRIPTION} "
                f"broadcast a day, and broadcast {other} uses {_local_day(when, settings.tz)}'s"
            )
    else:
        full = _residents_at_monthly_limit(db, plan, when, settings.tz)
        if full:
            raise BroadcastError(
                f"--mass: {full} of the recipients already had {MASS_PER_RESIDENT_PER_MONTH} "
                f"mass broadcasts this month (WeChat's limit per follower on a service "
                "account); send without --mass or narrow the audience"
            )
    if send_at is None or send_at <= now:
        recent = db.execute(
            select(func.count())
            .select_from(OutboxMessage)
            .where(
                OutboxMessage.kind == MASS_KIND,
                OutboxMessage.created_at > now - timedelta(minutes=1),
            )
        ).scalar_one()
        if recent + len(plan.requests) > MASS_REQUESTS_PER_MINUTE:
            raise BroadcastError(
                f"--mass: WeChat allows {MASS_REQUESTS_PER_MINUTE} mass-send requests a minute; "
                f"{recent} were queued in the last minute and this needs "
                f"{len(plan.requests)}; try again in a minute"
            )


def _local_day(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).date().isoformat()


def _local_period(moment: datetime, tz: ZoneInfo, month: bool) -> tuple[datetime, datetime]:
    local = moment.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    if not month:
        return local, local + timedelta(days=1)
    start = local.replace(day=1)
    following = (start + timedelta(days=32)).replace(day=1)
    return start, following


def _mass_broadcast_on_day(
    db: Session, when: datetime, tz: ZoneInfo, broadcast_id: int | None
) -> int | None:
    """Another mass broadcast sent, or scheduled, on ``when``'s local day."""
    start, end = _local_period(when, tz, month=False)
    query = select(Broadcast.id).where(
        Broadcast.mass.is_(True),
        or_(
            (Broadcast.status == SENT) & (Broadcast.sent_at >= start) & (Broadcast.sent_at < end),
            (Broadcast.status == SCHEDULED)
            & (Broadcast.scheduled_at >= start)
            & (Broadcast.scheduled_at < end),
        ),
    )
    if broadcast_id is not None:
        query = query.where(Broadcast.id != broadcast_id)
    return db.execute(query.order_by(Broadcast.id).limit(1)).scalar_one_or_none()


def _residents_at_monthly_limit(db: Session, plan: MassPlan, when: datetime, tz: ZoneInfo) -> int:
    """How many planned recipients already had 4 mass sends WeChat did not give up on."""
    start, end = _local_period(when, tz, month=True)
    full = set(
        db.execute(
            select(BroadcastRecipient.resident_id)
            .join(OutboxMessage, OutboxMessage.id == BroadcastRecipient.outbox_id)
            .where(
                BroadcastRecipient.created_at >= start,
                BroadcastRecipient.created_at < end,
                OutboxMessage.status.not_in((DEAD, EXPIRED)),
            )
            .group_by(BroadcastRecipient.resident_id)
            .having(func.count() >= MASS_PER_RESIDENT_PER_MONTH)
        ).scalars()
    )
    if not full:
        return 0
    return sum(1 for request in plan.requests for r in request.recipients if r.resident_id in full)


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
    """What a broadcast would send right now: its text, audience and mass plan (checked)."""
    texts = {"zh": broadcast.text_zh, "en": broadcast.text_en}
    if broadcast.event_id is not None:
        texts = event_announcement(db, announceable_event(db, broadcast.event_id, now), settings.tz)
    audience = resolve_audience(db, broadcast.audience, categories)
    plan = None
    if broadcast.mass:
        plan = plan_mass(audience, settings)
        check_mass_quota(db, plan, settings, now, broadcast_id=broadcast.id)
    return texts, audience, plan


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
    """
    texts, audience, plan = prepare(db, broadcast, now, settings, categories)
    broadcast.text_zh, broadcast.text_en = texts["zh"], texts["en"]
    shown = as_residents_see(texts)
    expires_at = _expiry(db, broadcast, now)
    singles = audience.recipients if plan is None else plan.singles
    rows = _write_rows(db, broadcast, singles, shown, now, expires_at, progress)
    if plan is not None:
        rows += _write_mass(db, broadcast, plan, shown, now, expires_at, progress)
    broadcast.status = SENT
    broadcast.sent_at = now
    broadcast.error = None
    broadcast.recipients = audience.size
    broadcast.excluded_unsubscribed = audience.excluded_unsubscribed
    broadcast.excluded_opted_out = audience.excluded_opted_out
    db.flush()
    return FanOut(
        broadcast_id=broadcast.id,
        recipients=audience.size,
        rows=rows,
        mass_requests=0 if plan is None else len(plan.requests),
        singles=0 if plan is None else len(plan.singles),
    )


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
    values (models.outbox.PUSH_KIND_VALUES["broadcast"])."""
    return {"text": texts, "fields": _fields(broadcast)}


def _write_rows(
    db: Session,
    broadcast: Broadcast,
    recipients: Sequence[Recipient],
    texts: dict[str, str],
    now: datetime,
    expires_at: datetime,
    progress: Progress | None,
) -> int:
    """One outbox row per recipient (keys make a re-run a no-op).

    Each batch is one INSERT ... SELECT from ``resident`` whose values are bound once, so
    tens of thousands of rows cost a few statements, not a Python round per row.
    """
    payload = broadcast_payload(broadcast, texts)
    columns = {
        "resident_id": Resident.id,
        "recipient_openid": Resident.openid,
        "kind": literal(BROADCAST_KIND, String),
        "payload": _json_value(db, payload),
        "idempotency_key": literal(f"broadcast:{broadcast.id}:", String)
        + cast(Resident.id, String),
        "status": literal(PENDING, String),
        "attempts": literal(0, Integer),
        "next_attempt_at": literal(now, UTCDateTime()),
        "expires_at": literal(expires_at, UTCDateTime()),
        "created_at": literal(now, UTCDateTime()),
    }
    _copy_residents(db, OutboxMessage, columns, ["idempotency_key"], recipients, progress)
    return len(recipients)


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
        payload: dict[str, Any] = {
            "request": mass_request_body(request, texts, broadcast.id, number),
            "text": texts,
            "fields": _fields(broadcast),
        }
        target = request.target
        if request.method == BY_TAG:
            name = mass_tag_name(broadcast.id, now)
            target = f"{WECHAT_TAG}:{name}"
            payload["tag"] = {"name": name, "openids": request.openids}
        outbox_id = enqueue_push(
            db,
            recipient_openid=target,
            kind=MASS_KIND,
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
        _copy_residents(
            db,
            BroadcastRecipient,
            columns,
            ["broadcast_id", "resident_id"],
            request.recipients,
            progress,
        )
    return len(plan.requests)


def _json_value(db: Session, value: dict[str, Any]) -> Any:
    """A JSON bound value in a SELECT list: PostgreSQL needs its type spelled out, while
    SQLite would turn CAST(... AS JSON) into a number."""
    bound = literal(value, JSON)
    return cast(bound, JSON) if db.get_bind().dialect.name == "postgresql" else bound


def _copy_residents(
    db: Session,
    model: type[Any],
    columns: dict[str, Any],
    conflict_columns: list[str],
    recipients: Sequence[Recipient],
    progress: Progress | None,
) -> None:
    """INSERT INTO ``model`` SELECT ``columns`` FROM resident, batch by batch of ids,
    skipping rows whose ``conflict_columns`` exist (ON CONFLICT DO NOTHING)."""
    on_postgresql = db.get_bind().dialect.name == "postgresql"
    insert = postgresql.insert if on_postgresql else sqlite.insert
    for start in range(0, len(recipients), BATCH_SIZE):
        batch = recipients[start : start + BATCH_SIZE]
        ids = [r.resident_id for r in batch]
        # On PostgreSQL one array parameter instead of thousands of placeholders.
        chosen = (
            Resident.id == any_(literal(ids, postgresql.ARRAY(Integer)))
            if on_postgresql
            else Resident.id.in_(ids)
        )
        rows = select(*columns.values()).where(chosen)
        db.execute(
            insert(model.__table__)
            .from_select(list(columns), rows)
            .on_conflict_do_nothing(index_elements=conflict_columns)
        )
        if progress is not None:
            progress(len(batch))


# Sending: who may still get a queued broadcast -----------------------------------------------

# Why a queued broadcast row is not sent: the audience was fixed at fan-out, the opt-out
# is the resident's word since, and it wins until the row has gone out.
OPTED_OUT = "the resident opted out of broadcasts (退订) before it went out"
NOBODY_LEFT = "every recipient opted out (退订) or unfollowed before it went out"


def opted_out(db: Session, resident_id: int) -> bool:
    """Whether the resident has asked (退订) for no broadcasts."""
    found = db.execute(
        select(Resident.broadcast_opt_out).where(Resident.id == resident_id)
    ).scalar_one_or_none()
    return bool(found)


@dataclass(frozen=True)
class MassSend:
    """A mass-send row's request as it may go now: the body to post and, for a tag send,
    the tag's name and the openids it must hold."""

    body: dict[str, Any]
    tag: dict[str, Any] | None


def mass_send_now(
    db: Session,
    outbox_id: int,
    payload: dict[str, Any],
    expires_at: datetime | None,
    now: datetime,
) -> MassSend | str:
    """The mass request of outbox row ``outbox_id`` without the residents who opted out
    (退订) or unfollowed since fan-out, or why nothing of it goes out.

    The openids were fixed at fan-out, so this is read again right before the send:

    - an openid list keeps the others; one left alone cannot be a list (WeChat needs 2),
      so that resident gets a normal broadcast row instead;
    - a tag send's tag is filled with the others only;
    - a send to every follower cannot leave anyone out, so it becomes a tag send to the
      others (the broadcast's own tag, as a subscription account's audience uses).
    """
    body = dict(payload["request"])
    tag: dict[str, Any] | None = payload.get("tag")
    recipients = db.execute(
        select(Resident.id, Resident.openid, Resident.subscribed, Resident.broadcast_opt_out)
        .join(BroadcastRecipient, BroadcastRecipient.resident_id == Resident.id)
        .where(BroadcastRecipient.outbox_id == outbox_id)
        .order_by(Resident.id)
    ).all()
    staying = {r.openid: r.id for r in recipients if r.subscribed and not r.broadcast_opt_out}
    if len(staying) == len(recipients):
        return MassSend(body, tag)
    if not staying:
        return NOBODY_LEFT
    if "touser" in body:
        kept = [openid for openid in body["touser"] if openid in staying]
        if len(kept) >= MASS_OPENIDS_MIN:
            return MassSend({**body, "touser": kept}, tag)
        return _hand_to_single(db, payload, kept[0], staying[kept[0]], expires_at, now)
    if tag is not None:
        return MassSend(body, {**tag, "openids": [o for o in tag["openids"] if o in staying]})
    broadcast = db.get(Broadcast, payload["fields"]["broadcast_id"])
    assert broadcast is not None and broadcast.sent_at is not None
    name = mass_tag_name(broadcast.id, broadcast.sent_at)
    return MassSend(
        {**body, "filter": {"is_to_all": False}}, {"name": name, "openids": list(staying)}
    )


def _hand_to_single(
    db: Session,
    payload: dict[str, Any],
    openid: str,
    resident_id: int,
    expires_at: datetime | None,
    now: datetime,
) -> str:
    """Queue the one resident left of an openid list as a normal broadcast row (its key is
    the one fan-out gives a single, so repeating this queues nothing more)."""
    broadcast_id = payload["fields"]["broadcast_id"]
    enqueue_push(
        db,
        recipient_openid=openid,
        kind=BROADCAST_KIND,
        payload={"text": payload["text"], "fields": payload["fields"]},
        idempotency_key=f"broadcast:{broadcast_id}:{resident_id}",
        now=now,
        resident_id=resident_id,
        expires_at=expires_at,
    )
    return (
        "the others opted out (退订) or unfollowed before it went out; "
        "the one recipient left gets a normal broadcast"
    )


def due_broadcasts(db: Session, now: datetime, limit: int = 20) -> list[Broadcast]:
    """Scheduled broadcasts whose time has come, locked so two schedulers never share one."""
    return list(
        db.execute(
            select(Broadcast)
            .where(Broadcast.status == SCHEDULED, Broadcast.scheduled_at <= now)
            .order_by(Broadcast.scheduled_at, Broadcast.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )


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
                broadcast.status = REFUSED
                broadcast.error = str(refusal)
        db.flush()


def recent_broadcasts(db: Session, scheduled_only: bool, limit: int = 50) -> list[Broadcast]:
    """Scheduled broadcasts, soonest first; or the latest of every status, newest first."""
    query = select(Broadcast)
    if scheduled_only:
        query = query.where(Broadcast.status == SCHEDULED).order_by(
            Broadcast.scheduled_at, Broadcast.id
        )
    else:
        query = query.order_by(Broadcast.scheduled_at.desc(), Broadcast.id.desc())
    return list(db.execute(query.limit(limit)).scalars())


def cancel_broadcast(db: Session, broadcast_id: int, now: datetime, by: str | None) -> Broadcast:
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
    if broadcast.status != SCHEDULED:
        raise BroadcastError(
            f"broadcast {broadcast_id} is {broadcast.status}, not scheduled: "
            "only a broadcast that has not gone out can be cancelled"
        )
    broadcast.status = CANCELLED
    broadcast.error = f"cancelled at {now.isoformat(timespec='seconds')}" + (
        f" by {by}" if by else ""
    )
    db.flush()
    return broadcast
