"""Needs residents raise, their status history, photos, and the partners who take them on.

One set of rules serves the chat, the staff CLI and the console: a need is created with
its first history row, and every later change goes through :func:`change_status`, which
enforces the transition table, writes one history row, and queues the pushes that tell
the resident (and anyone whose need was merged into this one) what happened. A person's
mistake raises :class:`NeedError` with one sentence and changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ColumnElement,
    Float,
    ForeignKey,
    Index,
    Integer,
    Select,
    String,
    Text,
    UniqueConstraint,
    distinct,
    func,
    select,
    update,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from models.base import Base, CreatedAtMixin
from models.inbound import InboundMessage
from models.push.outbox import OutboxMessage, enqueue_push
from models.push.vocabulary import PushKind
from models.residents import OPENID_MAX, Resident, get_or_create_resident

SUBMITTED = "submitted"
ACKNOWLEDGED = "acknowledged"
IN_PROGRESS = "in_progress"
RESOLVED = "resolved"
DECLINED = "declined"
DUPLICATE = "duplicate"
STATUSES = (SUBMITTED, ACKNOWLEDGED, IN_PROGRESS, RESOLVED, DECLINED, DUPLICATE)
OPEN_STATUSES = (SUBMITTED, ACKNOWLEDGED, IN_PROGRESS)

# Where a need may go next. Resolved, declined and duplicate are final: a need that comes
# back is a new need (and staff can mark it a duplicate of the old one).
TRANSITIONS: dict[str, frozenset[str]] = {
    SUBMITTED: frozenset({ACKNOWLEDGED, DECLINED, DUPLICATE}),
    ACKNOWLEDGED: frozenset({IN_PROGRESS, RESOLVED, DECLINED, DUPLICATE}),
    IN_PROGRESS: frozenset({RESOLVED, DECLINED, DUPLICATE}),
    RESOLVED: frozenset(),
    DECLINED: frozenset(),
    DUPLICATE: frozenset(),
}
NEEDS_A_REASON = frozenset({DECLINED, DUPLICATE})

PARTNER_KINDS = ("government", "enterprise", "ngo", "school", "volunteer")
# The push to a partner's contact when a need is handed to them.
ASSIGNED_KIND = PushKind.NEED_ASSIGNED

PHOTO_PENDING = "pending"
PHOTO_FETCHED = "fetched"
PHOTO_FAILED = "failed"
PHOTO_ERASING = "erasing"
PHOTO_ERASED = "erased"

BY_RESIDENT = "resident"
# The largest id an integer primary key holds; PostgreSQL refuses a larger one with an error.
ID_MAX = 2**31 - 1
REF_PATTERN = re.compile(r"^n?-?\s*0*(\d{1,9})$", re.IGNORECASE)

STATUS_NAMES = {
    SUBMITTED: ("已提交", "submitted"),
    ACKNOWLEDGED: ("已受理", "acknowledged"),
    IN_PROGRESS: ("处理中", "in progress"),
    RESOLVED: ("已解决", "resolved"),
    DECLINED: ("未能受理", "declined"),
    DUPLICATE: ("已合并", "merged as a duplicate"),
}


# How a push says the need reached a status, after 您的需求 N-000123 / Your need N-000123.
_STATUS_PHRASES = {
    ACKNOWLEDGED: ("已受理，我们会尽快跟进。", "has been acknowledged; we will follow it up."),
    IN_PROGRESS: ("正在处理中。", "is in progress."),
    RESOLVED: ("已解决，感谢您的反馈！", "has been resolved. Thank you for raising it!"),
    DECLINED: ("未能受理。", "was declined."),
}


class NeedError(ValueError):
    """A request the rules refuse; the message is one sentence for the person who asked."""


class Partner(CreatedAtMixin, Base):
    __tablename__ = "partner"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('government', 'enterprise', 'ngo', 'school', 'volunteer')", name="kind"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    contact_openid: Mapped[str | None] = mapped_column(String(OPENID_MAX))


class Need(CreatedAtMixin, Base):
    __tablename__ = "need"
    __table_args__ = (
        CheckConstraint(
            "status IN ('submitted', 'acknowledged', 'in_progress', 'resolved', 'declined', "
            "'duplicate')",
            name="status",
        ),
        Index("ix_need_resident_id_created_at", "resident_id", "created_at"),
        Index("ix_need_status_created_at", "status", "created_at"),
        Index("ix_need_category_created_at", "category", "created_at"),
        Index("ix_need_partner_id_created_at", "partner_id", "created_at"),
        Index("ix_need_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"))
    category: Mapped[str] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=SUBMITTED)
    place: Mapped[str | None] = mapped_column(String(200))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("need.id"), index=True)
    updated_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    erased_at: Mapped[datetime | None]

    @property
    def ref(self) -> str:
        return need_ref(self.id)


class NeedHistory(CreatedAtMixin, Base):
    __tablename__ = "need_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("need.id"), index=True)
    by: Mapped[str] = mapped_column(String(64))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("need.id"))


class NeedPhoto(CreatedAtMixin, Base):
    __tablename__ = "need_photo"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'fetched', 'failed', 'erasing', 'erased')", name="status"
        ),
        UniqueConstraint("need_id", "position"),
        Index("ix_need_photo_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("need.id"))
    position: Mapped[int] = mapped_column(Integer)
    media_id: Mapped[str | None] = mapped_column(String(128))
    pic_url: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=PHOTO_PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    local_path: Mapped[str | None] = mapped_column(String(300))
    content_type: Mapped[str | None] = mapped_column(String(64))
    fetched_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


# References -----------------------------------------------------------------------------


def need_ref(need_id: int) -> str:
    """What residents and staff call a need: ``N-000123`` (more digits past 999999)."""
    return f"N-{need_id:06d}"


def parse_ref(text: str) -> int | None:
    """The id in a ref as people type it: ``N-000123``, ``n123``, ``123``; None if not one."""
    match = REF_PATTERN.match(text.strip())
    if match is None or int(match.group(1)) == 0:
        return None
    return int(match.group(1))


def get_need(db: Session, ref: str) -> Need:
    need_id = parse_ref(ref)
    need = db.get(Need, need_id) if need_id is not None else None
    if need is None:
        raise NeedError(f"no need {ref!r} (refs look like N-000123)")
    return need


# Partners -------------------------------------------------------------------------------


def add_partner(
    db: Session, *, name: str, kind: str, now: datetime, contact_openid: str | None = None
) -> Partner:
    name = name.strip()
    if not name:
        raise NeedError("a partner needs a name")
    if len(name) > 100:
        raise NeedError("a partner name is at most 100 characters")
    if kind not in PARTNER_KINDS:
        raise NeedError(f"unknown partner kind {kind!r}; use one of {', '.join(PARTNER_KINDS)}")
    contact = (contact_openid or "").strip() or None
    if contact is not None and len(contact) > OPENID_MAX:
        # Checked here, not left to the column: PostgreSQL would refuse it with a traceback.
        raise NeedError(
            f"a contact openid is at most {OPENID_MAX} characters (WeChat's are 28), "
            f"got {len(contact)}"
        )
    if db.execute(select(Partner.id).where(Partner.name == name)).first() is not None:
        raise NeedError(f"a partner named {name!r} exists already")
    partner = Partner(name=name, kind=kind, contact_openid=contact, created_at=now)
    db.add(partner)
    db.flush()
    return partner


def get_partner(db: Session, name: str) -> Partner:
    """A partner by its exact name (case-insensitive) or its id."""
    text = name.strip()
    partner = db.execute(
        select(Partner).where(func.lower(Partner.name) == text.lower())
    ).scalar_one_or_none()
    if partner is None and text.isdecimal() and int(text) <= ID_MAX:
        partner = db.get(Partner, int(text))
    if partner is None:
        raise NeedError(f"no partner {name!r} (see: aixiang partners list)")
    return partner


def list_partners(db: Session) -> list[Partner]:
    return list(db.execute(select(Partner).order_by(Partner.name)).scalars())


# Creating a need ------------------------------------------------------------------------


@dataclass(frozen=True)
class PhotoDraft:
    media_id: str
    pic_url: str


def create_need(
    db: Session,
    *,
    resident: Resident,
    category: str,
    description: str,
    now: datetime,
    photos: Sequence[PhotoDraft] = (),
    place: str | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
) -> Need:
    """Store a resident's need with its first history row and its photos to fetch."""
    description = description.strip()
    if not category:
        raise NeedError("a need needs a category")
    if not description:
        raise NeedError("a need needs a description")
    if resident.privacy_consent_at is None:
        raise NeedError("the resident has not agreed to the privacy notice")
    need = Need(
        resident_id=resident.id,
        category=category,
        description=description,
        status=SUBMITTED,
        place=(place or "").strip()[:200] or None,
        latitude=latitude,
        longitude=longitude,
        created_at=now,
        updated_at=now,
    )
    db.add(need)
    db.flush()
    db.add(
        NeedHistory(
            need_id=need.id,
            by=BY_RESIDENT,
            from_status=None,
            to_status=SUBMITTED,
            public=False,
            created_at=now,
        )
    )
    for position, photo in enumerate(photos, start=1):
        db.add(
            NeedPhoto(
                need_id=need.id,
                position=position,
                media_id=photo.media_id,
                pic_url=photo.pic_url,
                status=PHOTO_PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
    db.flush()
    return need


# Status changes -------------------------------------------------------------------------


def change_status(
    db: Session,
    need: Need,
    to_status: str,
    by: str,
    note: str | None,
    public: bool,
    now: datetime,
    duplicate_of: Need | None = None,
    partner: Partner | None = None,
) -> NeedHistory:
    """Move ``need`` to ``to_status`` (or keep its status to add a note or assign a partner).

    Writes one history row, and queues a push to the resident (and to residents whose
    needs were merged into this one) for a status change or a public note. Marking a
    duplicate links the need to the original's root, and needs already merged into it
    move along, so demand counts stay one level deep.
    """
    note = (note or "").strip() or None
    by = by.strip()[:64] or "staff"
    # Two staff updating one need at once: the second waits, then sees the first's status.
    db.refresh(need, with_for_update=True)
    from_status = need.status
    if to_status not in STATUSES:
        raise NeedError(f"unknown status {to_status!r}; use one of {', '.join(STATUSES)}")
    moving = to_status != from_status
    if moving and to_status not in TRANSITIONS[from_status]:
        allowed = ", ".join(sorted(TRANSITIONS[from_status])) or "nothing (it is final)"
        raise NeedError(
            f"{need.ref} is {from_status}; it can move to {allowed}, not to {to_status}"
        )
    if not moving and note is None and partner is None:
        raise NeedError(
            f"{need.ref} is already {to_status}; give a new status, a note or a partner"
        )
    if public and note is None:
        raise NeedError("a public note needs its text, to show the resident")
    if moving and to_status in NEEDS_A_REASON and note is None:
        raise NeedError(f"marking a need {to_status} needs a reason (a note)")
    original = None
    if duplicate_of is not None:
        if not (moving and to_status == DUPLICATE):
            raise NeedError("a duplicate-of need is only given when marking a need duplicate")
        original = _root(db, duplicate_of)
        if original.id == need.id:
            raise NeedError(f"{need.ref} cannot be a duplicate of itself")
    elif moving and to_status == DUPLICATE:
        raise NeedError("marking a need duplicate needs the need it duplicates")

    newly_assigned = partner is not None and need.partner_id != partner.id
    need.status = to_status
    need.updated_at = now
    if partner is not None:
        need.partner_id = partner.id
    if moving and to_status == ACKNOWLEDGED and need.acknowledged_at is None:
        need.acknowledged_at = now
    if moving and to_status == RESOLVED and need.resolved_at is None:
        need.resolved_at = now
    if original is not None:
        need.duplicate_of_id = original.id
        db.execute(
            update(Need).where(Need.duplicate_of_id == need.id).values(duplicate_of_id=original.id)
        )
    entry = NeedHistory(
        need_id=need.id,
        by=by,
        from_status=from_status,
        to_status=to_status,
        note=note,
        public=public,
        partner_id=partner.id if partner is not None else None,
        duplicate_of_id=original.id if original is not None else None,
        created_at=now,
    )
    db.add(entry)
    db.flush()
    if moving or public:
        _queue_pushes(db, need, entry, original, partner, now)
    if newly_assigned and partner is not None and partner.contact_openid:
        _tell_partner(db, need, entry, partner, partner.contact_openid, now)
    return entry


def _tell_partner(
    db: Session, need: Need, entry: NeedHistory, partner: Partner, openid: str, now: datetime
) -> None:
    """The partner's contact hears of a need handed to them: that is why staff record the
    contact. What the resident wrote goes with it, as staff see it; their name does not.
    A contact we only know from staff is not counted a follower (and so not sent
    broadcasts) until WeChat says they followed or they write to the account."""
    contact = get_or_create_resident(db, openid, now, followed=False)
    enqueue_push(
        db,
        recipient_openid=openid,
        kind=ASSIGNED_KIND,
        payload=assigned_payload(need, partner.name, entry.note, entry.created_at),
        idempotency_key=_assigned_key(need.id, entry.id),
        now=now,
        resident_id=contact.id,
    )


def _assigned_key(need_id: int, entry_id: int) -> str:
    return f"{ASSIGNED_KIND}:{need_id}:{entry_id}"


def assigned_payload(
    need: Need, partner_name: str, note: str | None, assigned_at: datetime
) -> dict[str, object]:
    """The push to a partner's contact; once the resident erased their data it says so
    instead of giving their words and place, so the partner knows why they are missing."""
    where = need.place or (
        f"{need.latitude:.5f}, {need.longitude:.5f}" if need.latitude is not None else ""
    )
    zh = f"{partner_name}：爱乡共建俱乐部将需求 {need.ref}（{need.category}）交给您跟进。"
    en = f"{partner_name}: the club has handed need {need.ref} ({need.category}) to you."
    if need.description:
        zh += f"\n内容：{need.description}"
        en += f"\nWhat was asked: {need.description}"
    elif need.erased_at is not None:
        zh += "\n内容和地点已应居民要求删除。"
        en += "\nWhat was asked and where were erased at the resident's request."
    if where:
        zh += f"\n地点：{where}"
        en += f"\nPlace: {where}"
    if note:
        zh += f"\n工作人员备注：{note}"
        en += f"\nStaff note: {note}"
    return {
        "text": {"zh": zh, "en": en},
        "fields": {
            "ref": need.ref,
            "category": need.category,
            "partner": partner_name,
            "place": where,
            "assigned_at": assigned_at.isoformat(),
        },
    }


def _root(db: Session, need: Need) -> Need:
    """The need a duplicate stands for (duplicates always point at a non-duplicate)."""
    if need.duplicate_of_id is None:
        return need
    root = db.get(Need, need.duplicate_of_id)
    return root if root is not None else need


def _queue_pushes(
    db: Session,
    need: Need,
    entry: NeedHistory,
    original: Need | None,
    partner: Partner | None,
    now: datetime,
) -> None:
    kind = PushKind.NEED_STATUS if entry.from_status != entry.to_status else PushKind.NEED_NOTE
    recipients: list[tuple[Resident, Need]] = []
    owner = db.get(Resident, need.resident_id) if need.resident_id is not None else None
    if owner is not None:
        recipients.append((owner, need))
    if entry.to_status != DUPLICATE:
        followers = db.execute(
            select(Resident, Need)
            .join(Need, Need.resident_id == Resident.id)
            .where(Need.duplicate_of_id == need.id)
            .order_by(Need.id)
        ).all()
        told = {resident.id for resident, _ in recipients}
        for resident, merged in followers:
            if resident.id not in told:
                told.add(resident.id)
                recipients.append((resident, merged))
    for resident, own_need in recipients:
        key = f"{kind}:{need.id}:{entry.id}"
        if own_need.id != need.id:
            key = f"{key}:{resident.id}"
        enqueue_push(
            db,
            recipient_openid=resident.openid,
            kind=kind,
            payload=status_push_payload(need, own_need, entry, original, partner),
            idempotency_key=key,
            now=now,
            resident_id=resident.id,
        )


def status_push_payload(
    need: Need,
    own_need: Need,
    entry: NeedHistory,
    original: Need | None,
    partner: Partner | None,
) -> dict[str, object]:
    """The bilingual text of a status change or public note, as the resident reads it.

    ``own_need`` is the resident's own need: the need itself, or one merged into it, in
    which case the text names both so the resident recognises their own reference.
    """
    if own_need.id == need.id:
        subject_zh, subject_en = f"您的需求 {need.ref} ", f"Your need {need.ref}"
    else:
        subject_zh = f"您的需求 {own_need.ref}（已并入 {need.ref}）"
        subject_en = f"Your need {own_need.ref} (merged into {need.ref})"
    if entry.from_status == entry.to_status:
        zh, en = f"{subject_zh}有新进展。", f"{subject_en} has an update."
    elif entry.to_status == DUPLICATE and original is not None:
        zh = f"{subject_zh}与 {original.ref} 相同，已合并；{original.ref} 有进展时会通知您。"
        en = (
            f"{subject_en} is the same as {original.ref} and was merged with it; "
            f"you will hear when {original.ref} moves on."
        )
    else:
        zh = f"{subject_zh}{_STATUS_PHRASES[entry.to_status][0]}"
        en = f"{subject_en} {_STATUS_PHRASES[entry.to_status][1]}"
    if partner is not None and entry.to_status not in NEEDS_A_REASON:
        zh += f"\n负责方：{partner.name}"
        en += f"\nTaken on by: {partner.name}"
    if entry.public and entry.note:
        zh += f"\n说明：{entry.note}"
        en += f"\nNote: {entry.note}"
    return {
        "text": {"zh": zh, "en": en},
        "fields": {
            "ref": own_need.ref,
            "status": entry.to_status,
            "status_zh": STATUS_NAMES[entry.to_status][0],
            "status_en": STATUS_NAMES[entry.to_status][1],
            "note": entry.note if entry.public else "",
            "changed_at": entry.created_at.isoformat(),
        },
    }


# Reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class NeedRow:
    need: Need
    partner: str | None
    demand_count: int


def _raised_by(need: type[Need]) -> ColumnElement[int]:
    """Who raised a need: its resident, or for an erased need (no resident any more) a
    stand-in of its own, so that it still counts as one resident."""
    return func.coalesce(need.resident_id, -need.id)


def _other_residents(original_ids: Sequence[int] | None = None) -> Select[int | None, int]:
    """Per original need (those in ``original_ids``, or all), how many residents besides
    its own raised it in needs merged into it: demand counts people, so one resident
    raising a need twice counts once."""
    merged = aliased(Need)
    original = aliased(Need)
    query = (
        select(merged.duplicate_of_id, func.count(distinct(_raised_by(merged))))
        .join(original, original.id == merged.duplicate_of_id)
        .where(_raised_by(merged) != _raised_by(original))
        .group_by(merged.duplicate_of_id)
    )
    if original_ids is not None:
        query = query.where(merged.duplicate_of_id.in_(original_ids))
    return query


def demand_counts(db: Session, need_ids: Sequence[int]) -> dict[int, int]:
    """How many residents raised each of ``need_ids``: its own, and those whose needs
    were merged into it."""
    if not need_ids:
        return {}
    others = {need_id: count for need_id, count in db.execute(_other_residents(need_ids))}
    return {need_id: 1 + others.get(need_id, 0) for need_id in need_ids}


def list_needs(
    db: Session,
    *,
    status: str | None = None,
    category: str | None = None,
    partner: Partner | None = None,
    since: datetime | None = None,
    limit: int = 50,
    by_demand: bool = False,
) -> list[NeedRow]:
    """Needs newest first (or most raised first), one page of ``limit`` rows.

    The filters and the newest-first order follow the need indexes, so a page costs the
    same with a million needs as with ten; ordering by demand counts the residents of
    every merged need, which is fine for open needs but not for the whole table.
    """
    query = select(Need, Partner.name).outerjoin(Partner, Partner.id == Need.partner_id)
    if status is not None:
        query = query.where(Need.status == status)
    if category is not None:
        query = query.where(Need.category == category)
    if partner is not None:
        query = query.where(Need.partner_id == partner.id)
    if since is not None:
        query = query.where(Need.created_at >= since)
    if by_demand:
        others = _other_residents().subquery()
        need_id, residents = others.c
        query = query.outerjoin(others, need_id == Need.id).order_by(
            func.coalesce(residents, 0).desc()
        )
    query = query.order_by(Need.created_at.desc(), Need.id.desc()).limit(limit)
    rows = db.execute(query).all()
    counts = demand_counts(db, [need.id for need, _ in rows])
    return [NeedRow(need, partner_name, counts[need.id]) for need, partner_name in rows]


def resident_needs(db: Session, resident: Resident, limit: int = 10) -> list[Need]:
    return list(
        db.execute(
            select(Need)
            .where(Need.resident_id == resident.id)
            .order_by(Need.created_at.desc(), Need.id.desc())
            .limit(limit)
        ).scalars()
    )


def count_resident_needs(db: Session, resident: Resident) -> int:
    return int(
        db.execute(
            select(func.count()).select_from(Need).where(Need.resident_id == resident.id)
        ).scalar_one()
    )


def need_history(db: Session, need: Need) -> list[NeedHistory]:
    return list(
        db.execute(
            select(NeedHistory)
            .where(NeedHistory.need_id == need.id)
            .order_by(NeedHistory.created_at, NeedHistory.id)
        ).scalars()
    )


def need_photos(db: Session, need: Need) -> list[NeedPhoto]:
    return list(
        db.execute(
            select(NeedPhoto).where(NeedPhoto.need_id == need.id).order_by(NeedPhoto.position)
        ).scalars()
    )


def partner_name(db: Session, partner_id: int | None) -> str | None:
    partner = db.get(Partner, partner_id) if partner_id is not None else None
    return partner.name if partner is not None else None


# Privacy --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Erasure:
    """What :func:`erase_resident_data` erased, to tell the resident."""

    needs: int
    photos: int
    places: int
    contact: bool
    messages: int


def erase_resident_data(db: Session, resident: Resident, now: datetime) -> Erasure:
    """Erase what a resident told us, keeping only anonymous counts.

    Needs keep their category, status, dates and partner (so counts and response times
    stay true) but lose their text, place and photos and their link to the resident;
    stored messages lose their words; name, mobile and both consents go. Photo
    files are deleted by the media sweep, which owns the disk (rows marked ``erasing``).

    The photo rows are locked while they are read: a download finishing meanwhile
    (:func:`photo_fetched`) must either land before, and be seen with its file, or wait
    and find the photo erased; otherwise a row read as pending ends ``erased`` with a
    file nobody deletes.
    """
    needs = list(db.execute(select(Need).where(Need.resident_id == resident.id)).scalars())
    need_ids = [need.id for need in needs]
    places = sum(1 for need in needs if need.place is not None or need.latitude is not None)
    photos = 0
    if need_ids:
        for photo in db.execute(
            select(NeedPhoto)
            .where(
                NeedPhoto.need_id.in_(need_ids),
                NeedPhoto.status.not_in((PHOTO_ERASING, PHOTO_ERASED)),
            )
            .order_by(NeedPhoto.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalars():
            photos += 1
            photo.status = PHOTO_ERASING if photo.local_path else PHOTO_ERASED
            photo.media_id = None
            photo.pic_url = None
            photo.last_error = None
    for need in needs:
        need.description = None
        need.place = None
        need.latitude = None
        need.longitude = None
        need.resident_id = None
        need.erased_at = now
    _erase_from_partner_pushes(db, needs)
    erased_messages = db.execute(
        update(InboundMessage)
        .where(
            InboundMessage.resident_id == resident.id,
            (InboundMessage.content.is_not(None)) | (InboundMessage.reply.is_not(None)),
        )
        .values(content=None, reply=None)
    )
    messages = cast(CursorResult[Any], erased_messages).rowcount
    contact = resident.name is not None or resident.mobile is not None
    resident.name = None
    resident.mobile = None
    resident.contact_consent_at = None
    resident.privacy_consent_at = None
    db.flush()
    return Erasure(
        needs=len(needs), photos=photos, places=places, contact=contact, messages=messages
    )


def _erase_from_partner_pushes(db: Session, needs: Sequence[Need]) -> None:
    """Rewrite the pushes that told partners of these (now erased) needs without the
    resident's words and place.

    A push not yet sent still goes out, as the need is still the partner's to act on;
    one already sent keeps a record of the push but not of what the resident said. The
    rows are found by their idempotency keys, built from the assignments in the history,
    so the lookup uses the outbox's unique index. A push a worker is sending at this
    moment may still carry the old text; its stored row is rewritten all the same.
    """
    by_id = {need.id: need for need in needs}
    if not by_id:
        return
    assignments = db.execute(
        select(NeedHistory.id, NeedHistory.need_id, NeedHistory.note, NeedHistory.created_at)
        .add_columns(Partner.name)
        .join(Partner, Partner.id == NeedHistory.partner_id)
        .where(NeedHistory.need_id.in_(by_id))
    )
    for entry_id, need_id, note, assigned_at, partner_name in assignments:
        need = by_id[need_id]
        db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.idempotency_key == _assigned_key(need_id, entry_id))
            .values(payload=assigned_payload(need, partner_name, note, assigned_at))
        )


# Photos: fetched to local storage by the media sweep ----------------------------------------


def claim_photos(db: Session, now: datetime, limit: int, lease: timedelta) -> list[NeedPhoto]:
    """Photos due for fetching, leased to this caller until ``now + lease``.

    The lease (moving ``next_attempt_at`` on) keeps a second sweeper, or the next run,
    off a photo while it downloads; one that dies mid-download is retried when it ends.
    """
    photos = list(
        db.execute(
            select(NeedPhoto)
            .where(NeedPhoto.status == PHOTO_PENDING, NeedPhoto.next_attempt_at <= now)
            .order_by(NeedPhoto.next_attempt_at, NeedPhoto.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    for photo in photos:
        photo.attempts += 1
        photo.next_attempt_at = now + lease
    db.flush()
    return photos


def photo_fetched(
    db: Session, photo_id: int, local_path: str, content_type: str, now: datetime
) -> bool:
    """Record a stored file; False if the photo was erased meanwhile (delete the file)."""
    photo = db.get(NeedPhoto, photo_id, with_for_update=True)
    if photo is None or photo.status != PHOTO_PENDING:
        return False
    photo.status = PHOTO_FETCHED
    photo.local_path = local_path
    photo.content_type = content_type
    photo.fetched_at = now
    photo.next_attempt_at = None
    photo.last_error = None
    return True


def photo_failed(db: Session, photo_id: int, error: str, retry_at: datetime | None) -> None:
    """Note a failed fetch: tried again at ``retry_at``, or given up when it is None."""
    photo = db.get(NeedPhoto, photo_id, with_for_update=True)
    if photo is None or photo.status != PHOTO_PENDING:
        return
    photo.last_error = error[:500]
    if retry_at is None:
        photo.status = PHOTO_FAILED
        photo.next_attempt_at = None
    else:
        photo.next_attempt_at = retry_at


def photos_to_erase(db: Session, limit: int) -> list[NeedPhoto]:
    return list(
        db.execute(
            select(NeedPhoto)
            .where(NeedPhoto.status == PHOTO_ERASING)
            .order_by(NeedPhoto.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )


def photo_erased(photo: NeedPhoto) -> None:
    photo.status = PHOTO_ERASED
    photo.local_path = None
    photo.content_type = None
