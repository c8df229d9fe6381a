"""Planning WeChat mass sends: which requests reach an audience, the tag a subscription
account's request uses, and WeChat's mass-send quotas, checked before anything is written.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Select,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session

from models.broadcasts.audience import Audience, AudienceKind, Recipient
from models.broadcasts.records import (
    AccountType,
    Broadcast,
    BroadcastRecipient,
    BroadcastSettings,
    BroadcastStatus,
    MassQuotaError,
)
from models.push.outbox import OutboxMessage
from models.push.registry import PushKind
from models.push.vocabulary import OutboxStatus

MASS_OPENIDS_MAX = 10_000
MASS_OPENIDS_MIN = 2
MASS_PER_RESIDENT_PER_MONTH = 4
MASS_PER_DAY_SUBSCRIPTION = 1
MASS_REQUESTS_PER_MINUTE = 60
# Outbox rows of tag sends name their tag after this, e.g. "wechat-tag:aixiang-20260501-b7".
WECHAT_TAG = "wechat-tag"
# The WeChat tags the project made for mass sends, and only those: "aixiang-<UTC day>-b<id>".
MASS_TAG_PATTERN = re.compile(r"aixiang-(\d{8})-b(\d+)")
# Serialises quota checks of concurrent mass sends on PostgreSQL (SQLite's BEGIN
# IMMEDIATE already does); any constant the project does not use elsewhere.
MASS_LOCK_KEY = 0x41584D53


class MassMethod(StrEnum):
    """How a mass request is addressed (``MassRequest.method``, the ``to`` of its intent)."""

    TO_ALL = "all"
    BY_TAG = "tag"
    BY_OPENIDS = "openids"


@dataclass(frozen=True)
class MassRequest:
    """One mass-send call: to every follower, to a WeChat tag, or to an openid list."""

    target: str
    language: str
    recipients: list[Recipient]
    method: str = MassMethod.BY_OPENIDS

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
    if audience.spec == AudienceKind.ALL and audience.excluded_opted_out == 0:
        return MassPlan(
            [MassRequest(AudienceKind.ALL, "both", audience.recipients, MassMethod.TO_ALL)]
        )
    if settings.account_type == AccountType.SUBSCRIPTION:
        return MassPlan([MassRequest(WECHAT_TAG, "both", audience.recipients, MassMethod.BY_TAG)])
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
            requests.append(MassRequest(target, language, chunk, MassMethod.BY_OPENIDS))
    return MassPlan(requests, singles)


def _even_chunks(items: list[Recipient], most: int) -> Iterator[tuple[int, list[Recipient]]]:
    """Chunks of at most ``most``, as even as possible, so none is left with one openid."""
    count = math.ceil(len(items) / most)
    size = math.ceil(len(items) / count)
    for start in range(0, len(items), size):
        yield start, items[start : start + size]


def mass_intent(
    request: MassRequest, tag_name: str, broadcast_id: int, number: int
) -> dict[str, Any]:
    """What a mass-send row asks for, in the words of models/, not WeChat's: the language
    of its text (``both``, ``zh`` or ``en``), its target (everyone; a tag by name with the
    openids it must hold; or an openid list), and the id that makes a retried send a
    duplicate WeChat drops. The worker turns it into WeChat's request (bot/wechat/api.py).
    """
    target: dict[str, Any] = {"to": request.method}
    if request.method == MassMethod.BY_TAG:
        target.update(tag=tag_name, openids=request.openids)
    elif request.method == MassMethod.BY_OPENIDS:
        target["openids"] = request.openids
    return {
        "language": request.language,
        "target": target,
        "send_id": f"aixiang-b{broadcast_id}-r{number}",
    }


def mass_text(texts: dict[str, str], language: str) -> str:
    """The one text a mass send carries: both languages, or the one its recipients read."""
    return f"{texts['zh']}\n\n{texts['en']}" if language == "both" else texts[language]


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
    if settings.account_type == AccountType.SUBSCRIPTION:
        other = _mass_broadcast_on_day(db, when, settings.tz, broadcast_id)
        if other is not None:
            raise MassQuotaError(
                "mass_quota_day",
                limit=MASS_PER_DAY_SUBSCRIPTION,
                other=other,
                day=_local_day(when, settings.tz),
            )
    else:
        full = _residents_at_monthly_limit(db, plan, when, settings.tz)
        if full:
            raise MassQuotaError("mass_quota_month", full=full, limit=MASS_PER_RESIDENT_PER_MONTH)
    if send_at is None or send_at <= now:
        recent = db.execute(
            select(func.count())
            .select_from(OutboxMessage)
            .where(
                OutboxMessage.kind == PushKind.MASS,
                OutboxMessage.created_at > now - timedelta(minutes=1),
            )
        ).scalar_one()
        if recent + len(plan.requests) > MASS_REQUESTS_PER_MINUTE:
            raise MassQuotaError(
                "mass_quota_minute",
                limit=MASS_REQUESTS_PER_MINUTE,
                recent=recent,
                needed=len(plan.requests),
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
            (Broadcast.status == BroadcastStatus.SENT)
            & (Broadcast.sent_at >= start)
            & (Broadcast.sent_at < end),
            (Broadcast.status == BroadcastStatus.SCHEDULED)
            & (Broadcast.scheduled_at >= start)
            & (Broadcast.scheduled_at < end),
        ),
    )
    if broadcast_id is not None:
        query = query.where(Broadcast.id != broadcast_id)
    return db.execute(query.order_by(Broadcast.id).limit(1)).scalar_one_or_none()


def _mass_sends_per_follower(start: datetime, end: datetime) -> Select[int, int]:
    """Each follower's mass sends received between ``start`` and ``end`` that WeChat did
    not give up on (resident id, how many): what its monthly limit of 4 counts."""
    return (
        select(BroadcastRecipient.resident_id, func.count().label("had"))
        .join(OutboxMessage, OutboxMessage.id == BroadcastRecipient.outbox_id)
        .where(
            BroadcastRecipient.created_at >= start,
            BroadcastRecipient.created_at < end,
            OutboxMessage.status.not_in((OutboxStatus.DEAD, OutboxStatus.EXPIRED)),
        )
        .group_by(BroadcastRecipient.resident_id)
    )


def _residents_at_monthly_limit(db: Session, plan: MassPlan, when: datetime, tz: ZoneInfo) -> int:
    """How many planned recipients already had 4 mass sends WeChat did not give up on."""
    start, end = _local_period(when, tz, month=True)
    per_follower = _mass_sends_per_follower(start, end).subquery()
    full = set(
        db.execute(
            select(per_follower.c.resident_id).where(
                per_follower.c.had >= MASS_PER_RESIDENT_PER_MONTH
            )
        ).scalars()
    )
    if not full:
        return 0
    return sum(1 for request in plan.requests for r in request.recipients if r.resident_id in full)


class QuotaPeriod(StrEnum):
    """What WeChat counts mass sends over: a subscription account's day, a service
    account's month."""

    DAY = "day"
    MONTH = "month"


@dataclass(frozen=True)
class MassQuotaUse:
    """How much of WeChat's mass-send quota is used in the current period, and when the
    period ends: a subscription account's broadcasts today (of 1), or on a service
    account the most mass broadcasts any follower had this month (of 4) and how many
    followers have had all of theirs."""

    period: QuotaPeriod
    used: int
    limit: int
    followers_at_limit: int
    resets_at: datetime


def mass_quota_use(db: Session, settings: BroadcastSettings, now: datetime) -> MassQuotaUse:
    """The mass-send quota as :func:`check_mass_quota` counts it, for staff to read."""
    if settings.account_type == AccountType.SUBSCRIPTION:
        start, end = _local_period(now, settings.tz, month=False)
        used = db.execute(
            select(func.count())
            .select_from(Broadcast)
            .where(
                Broadcast.mass.is_(True),
                Broadcast.status == BroadcastStatus.SENT,
                Broadcast.sent_at >= start,
                Broadcast.sent_at < end,
            )
        ).scalar_one()
        return MassQuotaUse(
            QuotaPeriod.DAY, used, MASS_PER_DAY_SUBSCRIPTION, 0, end.astimezone(UTC)
        )
    start, end = _local_period(now, settings.tz, month=True)
    per_follower = _mass_sends_per_follower(start, end).subquery()
    most, full = db.execute(
        select(
            func.coalesce(func.max(per_follower.c.had), 0),
            func.count().filter(per_follower.c.had >= MASS_PER_RESIDENT_PER_MONTH),
        )
    ).one()
    return MassQuotaUse(
        QuotaPeriod.MONTH, int(most), MASS_PER_RESIDENT_PER_MONTH, int(full), end.astimezone(UTC)
    )
