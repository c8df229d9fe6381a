"""Saved views of the needs queue: an account keeps the filters and sort it uses under a
name, beside the built-in views, and renames or deletes its own (each change audited).

A view's filters are stored as the queue's address carries them and read back through
the queue's own :func:`~models.needs.queue.read_filter`, so a view saved before a
category was retired, or by a version that knew other filters, opens with what still
applies and says what it left out. The reader's scope (a partner's organisation) is put
on when the view is read, never stored, so a saved view cannot widen it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.audit import Actor, AuditAction, AuditObject, record
from models.needs.errors import NeedRefusal
from models.needs.queue import FilterKey, QueueFilter, filter_values, read_filter
from models.needs.tables import SAVED_VIEW_NAME_MAX, SavedView


@dataclass(frozen=True)
class OpenedView:
    """A saved view as it opens: its filter, the filters it had that no longer apply, and
    whether it held keys this version does not know at all."""

    wanted: QueueFilter
    dropped: tuple[FilterKey, ...]
    unknown: bool


def saved_views(db: Session, account_id: int) -> list[SavedView]:
    """The account's own views, by name."""
    return list(
        db.execute(
            select(SavedView).where(SavedView.account_id == account_id).order_by(SavedView.name)
        ).scalars()
    )


def own_view(db: Session, account_id: int, view_id: int) -> SavedView | None:
    """The view if it is the account's; another account's view is as if it did not exist."""
    view = db.get(SavedView, view_id)
    return view if view is not None and view.account_id == account_id else None


def open_view(
    view: SavedView, categories: Collection[str], scope_partner_id: int | None
) -> OpenedView:
    """The view's filter for its reader, checked as an address would be."""
    stored = view.filters if isinstance(view.filters, dict) else {}
    read = read_filter(stored, categories, scope_partner_id)
    unknown = not isinstance(view.filters, dict) or bool(set(stored) - set(FilterKey))
    return OpenedView(read.wanted, read.dropped, unknown)


def save_view(
    db: Session, actor: Actor, account_id: int, name: str, wanted: QueueFilter, now: datetime
) -> SavedView:
    """Keep ``wanted`` (its filters and sort, not its scope) as the account's view
    ``name``; the name is new among the account's views."""
    name = _checked_name(db, account_id, name)
    view = SavedView(
        account_id=account_id,
        name=name,
        filters=filter_values(wanted),
        created_at=now,
        updated_at=now,
    )
    db.add(view)
    db.flush()
    record(
        db,
        actor,
        AuditAction.VIEW_SAVE,
        AuditObject.SAVED_VIEW,
        view.id,
        now,
        after={"name": view.name, **view.filters},
    )
    return view


def rename_view(db: Session, actor: Actor, view: SavedView, name: str, now: datetime) -> None:
    before = view.name
    view.name = _checked_name(db, view.account_id, name, view)
    view.updated_at = now
    db.flush()
    record(
        db,
        actor,
        AuditAction.VIEW_RENAME,
        AuditObject.SAVED_VIEW,
        view.id,
        now,
        before={"name": before},
        after={"name": view.name},
    )


def delete_view(db: Session, actor: Actor, view: SavedView, now: datetime) -> None:
    record(
        db,
        actor,
        AuditAction.VIEW_DELETE,
        AuditObject.SAVED_VIEW,
        view.id,
        now,
        before={"name": view.name, **view.filters},
    )
    db.delete(view)
    db.flush()


def _checked_name(db: Session, account_id: int, name: str, renamed: SavedView | None = None) -> str:
    """The name as kept: trimmed, 1 to :data:`SAVED_VIEW_NAME_MAX` characters, and not
    the name of another of the account's views."""
    name = " ".join(name.split())
    if not name or len(name) > SAVED_VIEW_NAME_MAX:
        raise NeedRefusal("need_error_view_name", max=SAVED_VIEW_NAME_MAX)
    clash = db.execute(
        select(SavedView.id).where(SavedView.account_id == account_id, SavedView.name == name)
    ).scalar_one_or_none()
    if clash is not None and (renamed is None or clash != renamed.id):
        raise NeedRefusal("need_error_view_taken", name=name)
    return name
