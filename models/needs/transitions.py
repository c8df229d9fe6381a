"""Staff moves on a need: every later change after submission goes through
:func:`change_status`, which enforces the transition table, writes one history row, and
queues the pushes that tell the resident (and anyone whose need was merged into this
one) what happened, and the partner's contact when a need is handed to them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models.needs.demand import recount_demand
from models.needs.errors import NeedRefusal
from models.needs.notices import (
    ASSIGNED_KIND,
    assigned_key,
    assigned_payload,
    status_name,
    status_push_key,
    status_push_kind,
    status_push_payload,
)
from models.needs.tables import NEEDS_A_REASON, TRANSITIONS, Need, NeedHistory, NeedStatus
from models.partners import Partner
from models.push.rows import enqueue_push
from models.residents import Resident, get_or_create_resident
from texts.catalog import both


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
    move along, so demand counts stay one level deep; the stored demand of both needs is
    recounted (models/needs/demand.py).
    """
    note = (note or "").strip() or None
    by = by.strip()[:64] or "staff"
    # Two staff updating one need at once: the second waits, then sees the first's status.
    db.refresh(need, with_for_update=True)
    from_status = need.status
    if to_status not in tuple(NeedStatus):
        raise NeedRefusal("need_error_status", status=to_status, statuses=", ".join(NeedStatus))
    moving = to_status != from_status
    # Refusals name statuses as people read them, in the reader's language.
    if moving and not TRANSITIONS[from_status]:
        raise NeedRefusal(
            "need_error_final",
            ref=need.ref,
            status=status_name(from_status),
            wanted=status_name(to_status),
        )
    if moving and to_status not in TRANSITIONS[from_status]:
        raise NeedRefusal(
            "need_error_move",
            ref=need.ref,
            status=status_name(from_status),
            allowed=both("push_digest_list_separator").join(
                status_name(s) for s in NeedStatus if s in TRANSITIONS[from_status]
            ),
            wanted=status_name(to_status),
        )
    if not moving and note is None and partner is None:
        raise NeedRefusal("need_error_no_change", ref=need.ref, status=status_name(to_status))
    if public and note is None:
        raise NeedRefusal("need_error_public_note_empty")
    if moving and to_status in NEEDS_A_REASON and note is None:
        raise NeedRefusal("need_error_reason", status=status_name(to_status))
    original = None
    if duplicate_of is not None:
        if not (moving and to_status == NeedStatus.DUPLICATE):
            raise NeedRefusal("need_error_original_unwanted")
        original = _root(db, duplicate_of)
        if original.id == need.id:
            raise NeedRefusal("need_error_own_duplicate", ref=need.ref)
    elif moving and to_status == NeedStatus.DUPLICATE:
        raise NeedRefusal("need_error_original_needed")

    newly_assigned = partner is not None and need.partner_id != partner.id
    need.status = to_status
    need.updated_at = now
    if partner is not None:
        need.partner_id = partner.id
    if moving and to_status == NeedStatus.ACKNOWLEDGED and need.acknowledged_at is None:
        need.acknowledged_at = now
    if moving and to_status == NeedStatus.RESOLVED and need.resolved_at is None:
        need.resolved_at = now
    if original is not None:
        need.duplicate_of_id = original.id
        db.execute(
            update(Need).where(Need.duplicate_of_id == need.id).values(duplicate_of_id=original.id)
        )
        recount_demand(db, {need.id, original.id})
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
        idempotency_key=assigned_key(need.id, entry.id),
        now=now,
        resident_id=contact.id,
    )


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
    kind = status_push_kind(entry)
    recipients: list[tuple[Resident, Need]] = []
    owner = db.get(Resident, need.resident_id) if need.resident_id is not None else None
    if owner is not None:
        recipients.append((owner, need))
    if entry.to_status != NeedStatus.DUPLICATE:
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
        key = status_push_key(entry)
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
