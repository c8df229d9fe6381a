"""What a need's console page reads beyond the need itself: whether the person asking
may see it, the needs merged into it ("me too"), and the pushes sent about it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from models.needs.notices import ASSIGNED_KIND
from models.needs.queries import parse_ref
from models.needs.tables import Need, NeedPhoto, PhotoStatus
from models.push.outbox import OutboxMessage
from models.push.registry import PushKind
from models.residents import Resident

# The kinds queued about a need, each keyed ``kind:need_id:...`` (models/needs/notices.py).
NEED_PUSH_KINDS = (PushKind.NEED_STATUS, PushKind.NEED_NOTE, ASSIGNED_KIND)


def visible_need(db: Session, ref: str, scope_partner_id: int | None) -> Need | None:
    """The need ``ref`` names, if the asker may see it: everyone but a partner sees every
    need; a partner only those assigned to it. None either way, so a partner cannot
    learn that another organisation's need exists."""
    need_id = parse_ref(ref)
    need = db.get(Need, need_id) if need_id is not None else None
    if need is None or (scope_partner_id is not None and need.partner_id != scope_partner_id):
        return None
    return need


def merged_needs(db: Session, need: Need) -> list[tuple[Need, Resident | None]]:
    """The needs marked duplicates of ``need``, with their residents: who said "me too"."""
    return [
        (merged, resident)
        for merged, resident in db.execute(
            select(Need, Resident)
            .outerjoin(Resident, Resident.id == Need.resident_id)
            .where(Need.duplicate_of_id == need.id)
            .order_by(Need.created_at, Need.id)
        )
    ]


def need_pushes(db: Session, need: Need) -> list[OutboxMessage]:
    """Every push queued about ``need``: to its resident, to residents whose needs were
    merged into it, to a partner's contact; oldest first, each with its status."""
    return list(db.execute(pushes_about_need(need.id)).scalars())


def pushes_about_need(need_id: int) -> Select[Any]:
    """The query of :func:`need_pushes`: the pushes whose keys start with one of the
    need's prefixes, found through the byte-wise unique index on the key."""
    prefixes = [f"{kind}:{need_id}:" for kind in NEED_PUSH_KINDS]
    return (
        select(OutboxMessage)
        .where(
            or_(*(OutboxMessage.idempotency_key.startswith(p, autoescape=True) for p in prefixes))
        )
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
    )


def stored_photo(db: Session, need: Need, position: int) -> NeedPhoto | None:
    """The photo at ``position`` of ``need`` if its file is stored (fetched, not erased)."""
    return db.execute(
        select(NeedPhoto).where(
            NeedPhoto.need_id == need.id,
            NeedPhoto.position == position,
            NeedPhoto.status == PhotoStatus.FETCHED,
            NeedPhoto.local_path.is_not(None),
        )
    ).scalar_one_or_none()
