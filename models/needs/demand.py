"""A need's demand kept on the need: how many residents raised it, its own and those whose
needs were merged into it ("me too").

The queue sorts by it, and counting every original's duplicates before the first row
cost PostgreSQL 118-173 ms at 200,000 needs (bench/README.md, Console). So the count is
a column, recounted from the links in the same transaction by every change of who is
linked to whom: marking a duplicate (and the duplicates it takes along) and erasing a
resident's data (an erased need counts as a resident of its own). :func:`counted_demand`
is the reckoning from the links themselves, which the stored count must always equal.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.needs.queries import other_residents
from models.needs.tables import Need


def counted_demand(db: Session, need_ids: Collection[int]) -> dict[int, int]:
    """How many residents raised each of ``need_ids``, counted from the needs merged into
    it rather than read from the column."""
    if not need_ids:
        return {}
    others = {need_id: count for need_id, count in db.execute(other_residents(list(need_ids)))}
    return {need_id: 1 + (others.get(need_id) or 0) for need_id in need_ids}


def recount_demand(db: Session, need_ids: Collection[int]) -> None:
    """Store the demand of ``need_ids`` as the links now say.

    The needs are locked first, in id order, and counted after: two staff linking needs
    to one original at once each count in turn, the second seeing the first's link, so
    neither count is lost. The lock is ``FOR NO KEY UPDATE``: a link to the original
    already holds its key share (the foreign key), which ``FOR UPDATE`` would wait for,
    each transaction for the other's.
    """
    if not need_ids:
        return
    needs = list(
        db.execute(
            select(Need)
            .where(Need.id.in_(sorted(need_ids)))
            .order_by(Need.id)
            .with_for_update(key_share=True)
            .execution_options(populate_existing=True)
        ).scalars()
    )
    counts = counted_demand(db, need_ids)
    for need in needs:
        need.demand = counts[need.id]


def recount_every_demand(db: Session) -> None:
    """Store the demand of every need others were merged into: for data written by SQL
    (the bench's seeders), not through the operations that keep it."""
    originals = select(Need.duplicate_of_id).where(Need.duplicate_of_id.is_not(None)).distinct()
    recount_demand(db, [need_id for need_id in db.execute(originals).scalars() if need_id])
