"""Erasing what a resident told us (删除我的信息 / delete my data), keeping anonymous counts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from models.audit import Actor, AuditAction, AuditObject, record
from models.inbound import InboundMessage
from models.inbox.operations import erase_resident_messages
from models.needs.demand import recount_demand
from models.needs.notices import assigned_key, assigned_payload
from models.needs.tables import Need, NeedHistory, NeedPhoto, PhotoStatus
from models.partners import Partner
from models.push.outbox import OutboxMessage
from models.residents import Resident


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
    stored messages and those left for staff (models/inbox/) lose their words; name,
    mobile, their village (asked again at their next need; a need keeps its village, as it
    keeps its category) and both consents go. Photo
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
                NeedPhoto.status.not_in((PhotoStatus.ERASING, PhotoStatus.ERASED)),
            )
            .order_by(NeedPhoto.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalars():
            photos += 1
            photo.status = PhotoStatus.ERASING if photo.local_path else PhotoStatus.ERASED
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
    # An erased need counts as a resident of its own: the demand of these needs and of
    # those they were merged into may grow (one resident's two "me too"s become two).
    recount_demand(
        db, {*need_ids, *(need.duplicate_of_id for need in needs if need.duplicate_of_id)}
    )
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
    erase_resident_messages(db, resident.id)
    contact = resident.name is not None or resident.mobile is not None
    resident.name = None
    resident.mobile = None
    resident.contact_consent_at = None
    resident.privacy_consent_at = None
    resident.village_id = None
    resident.village_asked_at = None
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
            .where(OutboxMessage.idempotency_key == assigned_key(need_id, entry_id))
            .values(payload=assigned_payload(need, partner_name, note, assigned_at))
        )


def erase_on_request(db: Session, actor: Actor, resident: Resident, now: datetime) -> Erasure:
    """Staff erase a resident's data because the resident asked them (by phone, in
    person): the same erasure as the chat's 删除我的信息, audited with who did it."""
    erased = erase_resident_data(db, resident, now)
    record(
        db,
        actor,
        AuditAction.RESIDENT_ERASE,
        AuditObject.RESIDENT,
        resident.id,
        now,
        after={
            "needs": erased.needs,
            "photos": erased.photos,
            "places": erased.places,
            "contact": erased.contact,
            "messages": erased.messages,
        },
    )
    return erased
