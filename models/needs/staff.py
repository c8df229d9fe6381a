"""What a person does to a need from the console or the CLI: one change through
:func:`~models.needs.transitions.change_status` with its audit entry, a new category,
and who may make them. Both shells call these, so a change made in either writes the
same history, queues the same pushes and leaves the same audit entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from models.audit import Actor, AuditAction, AuditObject, record
from models.needs.categories import CategoryName, category_names
from models.needs.errors import NeedRefusal
from models.needs.tables import Need, NeedHistory, NeedStatus, need_ref
from models.needs.transitions import change_status
from models.partners import Partner, partner_name


@dataclass(frozen=True)
class NeedUpdate:
    """One change: a status (None keeps it, or means duplicate with ``duplicate_of``),
    a note (public: pushed to the resident), a partner to hand the need to."""

    status: str | None = None
    note: str | None = None
    public: bool = False
    partner: Partner | None = None
    duplicate_of: Need | None = None

    @property
    def assigns(self) -> bool:
        return self.partner is not None


def may_update(partner_id: int | None, need: Need, change: NeedUpdate) -> bool:
    """Whether an account of organisation ``partner_id`` (None: the club's own staff)
    may make ``change``: a partner changes only needs assigned to it, and hands none on."""
    if partner_id is None:
        return True
    return not change.assigns and need.partner_id == partner_id


def update_need(
    db: Session, actor: Actor, need: Need, change: NeedUpdate, now: datetime
) -> NeedHistory:
    """Make ``change`` and audit it in the same transaction; a refused change raises
    :class:`NeedError` and leaves ``db`` as it was (the caller rolls back)."""
    before = {"status": need.status, "partner": partner_name(db, need.partner_id)}
    status = change.status or (
        NeedStatus.DUPLICATE if change.duplicate_of is not None else need.status
    )
    entry = change_status(
        db,
        need,
        status,
        actor.label,
        change.note,
        change.public,
        now,
        duplicate_of=change.duplicate_of,
        partner=change.partner,
    )
    record(
        db,
        actor,
        AuditAction.NEED_UPDATE,
        AuditObject.NEED,
        need.id,
        now,
        before=before,
        after={
            "status": need.status,
            "partner": partner_name(db, need.partner_id),
            "duplicate_of": need_ref(entry.duplicate_of_id) if entry.duplicate_of_id else None,
            "note": entry.note,
            "public": entry.public,
        },
    )
    return entry


def update_needs(
    db: Session, actor: Actor, needs: Sequence[Need], change: NeedUpdate, now: datetime
) -> list[NeedHistory]:
    """The same change to several needs, each through :func:`update_need`: all of them
    or, when one is refused, none (the error names that need and the caller rolls back)."""
    entries = []
    for need in needs:
        try:
            entries.append(update_need(db, actor, need, change, now))
        except NeedRefusal as exc:
            raise exc.about_need(need.ref) from None
    return entries


def change_category(
    db: Session,
    actor: Actor,
    need: Need,
    category: str,
    known: Iterable[CategoryName],
    now: datetime,
) -> None:
    """File ``need`` under another of the ``known`` categories (audited)."""
    names = category_names(known)
    if category not in names:
        raise NeedRefusal("need_error_category", category=category)
    if category == need.category:
        raise NeedRefusal("need_error_same_category", ref=need.ref, category=names[category])
    record(
        db,
        actor,
        AuditAction.NEED_CATEGORY,
        AuditObject.NEED,
        need.id,
        now,
        before={"category": need.category},
        after={"category": category},
    )
    need.category = category
    need.updated_at = now
