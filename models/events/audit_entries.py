"""The audit log's entries for what staff do to events, written the same from the console
and the CLI (``record`` in the session of the change): what was created, which fields an
edit changed and how many residents it told, a publication, a cancellation with its
reason, a check-in by staff. Residents' own sign-ups and QR check-ins are not staff
changes, and are not audited."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from models.audit import Actor, AuditAction, AuditObject, record
from models.events.checkin import CheckInResult
from models.events.staff import EventUpdate
from models.events.tables import Event, EventStatus


def audit_created(db: Session, actor: Actor, event: Event, now: datetime) -> None:
    record(
        db,
        actor,
        AuditAction.EVENT_CREATE,
        AuditObject.EVENT,
        event.id,
        now,
        after={"title": event.title, "starts_at": event.starts_at, "status": event.status},
    )


def audit_updated(
    db: Session, actor: Actor, done: EventUpdate, before: dict[str, Any], now: datetime
) -> None:
    """``before`` holds the changed fields' old values (tags and partners as text)."""
    event = done.event
    after: dict[str, Any] = {name: _shown(event, name) for name in before}
    after["told"] = len(done.told)
    record(
        db,
        actor,
        AuditAction.EVENT_UPDATE,
        AuditObject.EVENT,
        event.id,
        now,
        before=before,
        after=after,
    )


def audited_values(event: Event, names: Iterable[str]) -> dict[str, Any]:
    """The values of ``names`` as an edit's entry keeps them, read before the edit."""
    return {name: _shown(event, name) for name in names}


def _shown(event: Event, name: str) -> Any:
    if name == "tags":
        return ", ".join(event.tags)
    if name == "partners":
        return ", ".join(partner.name for partner in event.partners)
    return getattr(event, name)


def audit_published(db: Session, actor: Actor, event_id: int, now: datetime) -> None:
    record(
        db,
        actor,
        AuditAction.EVENT_PUBLISH,
        AuditObject.EVENT,
        event_id,
        now,
        before={"status": EventStatus.DRAFT},
        after={"status": EventStatus.PUBLISHED},
    )


def audit_cancelled(
    db: Session, actor: Actor, event: Event, status_before: str, told: int, now: datetime
) -> None:
    record(
        db,
        actor,
        AuditAction.EVENT_CANCEL,
        AuditObject.EVENT,
        event.id,
        now,
        before={"status": status_before},
        after={"status": event.status, "reason": event.cancel_reason, "told": told},
    )


def audit_checked_in(db: Session, actor: Actor, result: CheckInResult, now: datetime) -> None:
    """A check-in staff made; one that changed nothing (already in) is not an entry. A
    walk-in added by hand has no resident: the entry names them as they gave it."""
    if not result.first_time:
        return
    attendance = result.attendance
    after: dict[str, object] = {
        "resident": attendance.resident_id,
        "method": attendance.method,
        "party": attendance.party_size,
        "walk_in": attendance.walk_in,
    }
    if attendance.resident_id is None:
        after["name"] = attendance.walk_in_name
    record(
        db, actor, AuditAction.EVENT_CHECKIN, AuditObject.EVENT, result.event.id, now, after=after
    )
