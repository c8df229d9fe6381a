"""Changing villages: staff add, rename and retire them (each change audited in the
caller's transaction); a resident says which one they live in."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models.audit import Actor, AuditAction, AuditObject, record
from models.residents import Resident
from models.villages.errors import VillageError
from models.villages.queries import name_key, village_entry
from models.villages.tables import GROUP_SEPARATOR, MAX_VILLAGE_NAME, Village


def add_village(
    db: Session, actor: Actor, name: str, now: datetime, *, within: Village | None = None
) -> Village:
    """A new village, or a group ``within`` a village (groups hold no groups)."""
    if within is not None and within.parent_id is not None:
        raise VillageError("village_error_group_in_group", name=within.name)
    if within is not None and within.retired_at is not None:
        raise VillageError("village_error_retired", name=within.name)
    parent_id = within.id if within is not None else None
    cleaned = _valid_name(db, name, parent_id)
    village = Village(name=cleaned, parent_id=parent_id, created_at=now)
    db.add(village)
    db.flush()
    after = {"name": cleaned, "within": within.name if within is not None else None}
    record(db, actor, AuditAction.VILLAGE_ADD, AuditObject.VILLAGE, village.id, now, after=after)
    return village


def rename_village(db: Session, actor: Actor, village: Village, name: str, now: datetime) -> None:
    """A new name for a village or group: everything that names it reads the new one."""
    cleaned = _valid_name(db, name, village.parent_id, village.id)
    before = {"name": village.name}
    village.name = cleaned
    record(
        db,
        actor,
        AuditAction.VILLAGE_RENAME,
        AuditObject.VILLAGE,
        village.id,
        now,
        before=before,
        after={"name": cleaned},
    )


def retire_village(db: Session, actor: Actor, village: Village, now: datetime) -> None:
    """No longer offered to residents, with its groups; whatever names it keeps it."""
    if village.retired_at is not None:
        raise VillageError("village_error_retired", name=village.name)
    village.retired_at = now
    db.execute(
        update(Village)
        .where(Village.parent_id == village.id, Village.retired_at.is_(None))
        .values(retired_at=now)
    )
    record(
        db,
        actor,
        AuditAction.VILLAGE_RETIRE,
        AuditObject.VILLAGE,
        village.id,
        now,
        after={"retired_at": now},
    )


def set_resident_village(
    db: Session, resident: Resident, village_id: int | None, now: datetime
) -> None:
    """The village a resident lives in (None: they would rather not say). Either way
    they have been asked, and the chat does not ask again."""
    entry = village_entry(db, village_id)
    if village_id is not None and (entry is None or entry.retired):
        raise VillageError("village_error_unknown", name=str(village_id))
    resident.village_id = village_id
    resident.village_asked_at = now


def _valid_name(db: Session, name: str, parent_id: int | None, own_id: int | None = None) -> str:
    """The name, trimmed, if it is a name and no other village (or group of the same
    village) has it in the form names are compared. A name of digits alone would be read
    as a number in the residents' list, and ``·`` is what joins a group to its village."""
    cleaned = " ".join(name.split())
    if not cleaned or name_key(cleaned).isdecimal():
        raise VillageError("village_error_name", max=MAX_VILLAGE_NAME)
    if len(cleaned) > MAX_VILLAGE_NAME or GROUP_SEPARATOR in cleaned:
        raise VillageError("village_error_name", max=MAX_VILLAGE_NAME)
    siblings = select(Village).where(
        Village.parent_id.is_(None) if parent_id is None else Village.parent_id == parent_id
    )
    for sibling in db.execute(siblings).scalars():
        if sibling.id != own_id and name_key(sibling.name) == name_key(cleaned):
            raise VillageError("village_error_taken", name=sibling.name)
    return cleaned
