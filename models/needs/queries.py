"""Reading needs: by ref, pages for staff, a resident's own, history, photos, and demand
(how many residents raised a need, counting those merged into it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, distinct, func, select
from sqlalchemy.orm import Session, aliased

from models.base import SelectT
from models.needs.errors import NeedError
from models.needs.notices import ASSIGNED_KIND, assigned_key, status_push_key
from models.needs.tables import Need, NeedHistory, NeedPhoto
from models.partners import Partner
from models.push.outbox import OutboxMessage
from models.residents import Resident

REF_PATTERN = re.compile(r"^n?-?\s*0*(\d{1,9})$", re.IGNORECASE)


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


@dataclass(frozen=True)
class NeedRow:
    need: Need
    partner: str | None
    demand_count: int


def _raised_by(need: type[Need]) -> ColumnElement[int]:
    """Who raised a need: its resident, or for an erased need (no resident any more) a
    stand-in of its own, so that it still counts as one resident."""
    return func.coalesce(need.resident_id, -need.id)


def other_residents(original_ids: Sequence[int] | None = None) -> Select[int | None, int]:
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
    were merged into it, as stored on the need (models/needs/demand.py keeps it)."""
    if not need_ids:
        return {}
    stored = db.execute(select(Need.id, Need.demand).where(Need.id.in_(need_ids)))
    return {need_id: demand for need_id, demand in stored}


def list_needs(
    db: Session,
    *,
    status: str | None = None,
    category: str | None = None,
    partner: Partner | None = None,
    since: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
    by_demand: bool = False,
    include_erased: bool = False,
) -> list[NeedRow]:
    """Needs newest first (or most raised first), one page of ``limit`` rows after
    ``offset``.

    A need whose resident erased their data is kept, anonymous, for the counts, but it
    is no longer work: no one can be told of its progress. It is left out unless asked.

    The filters and the newest-first order follow the need indexes, so a page costs the
    same with a million needs as with ten; ordering by demand reads the count stored on
    each need.
    """
    query = _filtered(
        select(Need, Partner.name).outerjoin(Partner, Partner.id == Need.partner_id),
        status,
        category,
        partner,
        since,
        include_erased,
    )
    if by_demand:
        query = query.order_by(Need.demand.desc())
    query = query.order_by(Need.created_at.desc(), Need.id.desc()).limit(limit).offset(offset)
    return [NeedRow(need, partner_name, need.demand) for need, partner_name in db.execute(query)]


def count_needs(
    db: Session,
    *,
    status: str | None = None,
    category: str | None = None,
    partner: Partner | None = None,
    since: datetime | None = None,
    include_erased: bool = False,
) -> int:
    """How many needs :func:`list_needs` with these filters holds in all: one count over
    the same indexes, so a page can say how many rows lie beyond it."""
    query = select(func.count()).select_from(Need)
    filtered = _filtered(query, status, category, partner, since, include_erased)
    return int(db.execute(filtered).scalar_one())


def _filtered(
    query: SelectT,
    status: str | None,
    category: str | None,
    partner: Partner | None,
    since: datetime | None,
    include_erased: bool,
) -> SelectT:
    """The staff list's filters, once for its page and its count."""
    if not include_erased:
        query = query.where(Need.erased_at.is_(None))
    if status is not None:
        query = query.where(Need.status == status)
    if category is not None:
        query = query.where(Need.category == category)
    if partner is not None:
        query = query.where(Need.partner_id == partner.id)
    if since is not None:
        query = query.where(Need.created_at >= since)
    return query


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


# The kinds transitions.py queues for a change, which it keys kind:need:entry (and
# :resident after that for a resident whose need was merged into this one).
def change_pushes(db: Session, entry: NeedHistory) -> list[tuple[str, str]]:
    """(kind, openid) of every push one change queued: to the resident, to residents
    whose needs were merged into it, to the assigned partner's contact. Found by their
    exact idempotency keys (the unique index), so staff learn who will be told from what
    was queued, not from a second reckoning of who should be."""
    merged = db.execute(
        select(Need.resident_id).where(
            Need.duplicate_of_id == entry.need_id, Need.resident_id.is_not(None)
        )
    ).scalars()
    stems = [status_push_key(entry), assigned_key(entry.need_id, entry.id)]
    keys = stems + [f"{stem}:{resident_id}" for resident_id in merged for stem in stems]
    return [
        (kind, openid)
        for kind, openid in db.execute(
            select(OutboxMessage.kind, OutboxMessage.recipient_openid)
            .where(OutboxMessage.idempotency_key.in_(keys))
            .order_by(OutboxMessage.id)
        )
    ]


def residents_told(db: Session, entry: NeedHistory) -> int:
    """How many residents the change recorded by ``entry`` queued a push for (none for an
    erased need, whose resident is gone): read from what was queued, so that whoever says
    "the resident will be told" says what happened, not what a change usually does."""
    return sum(1 for kind, _ in change_pushes(db, entry) if kind != ASSIGNED_KIND)
