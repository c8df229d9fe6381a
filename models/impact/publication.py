"""Whether the public impact page (``/impact``) is on: off until an admin turns it on,
each change audited in its transaction. Kept in the database, not the config, so the
switch is a person's act with a name and a time in the audit log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.audit import Actor, AuditAction, AuditObject, record
from models.base import Base, check_one_of


class SwitchKey(StrEnum):
    """The switches an admin turns on and off in the console."""

    PUBLIC_IMPACT = "public_impact"


class Switch(Base):
    __tablename__ = "switch"
    __table_args__ = (check_one_of("key", SwitchKey),)

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    on: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[datetime]


def public_impact_on(db: Session) -> bool:
    found = db.execute(select(Switch.on).where(Switch.key == SwitchKey.PUBLIC_IMPACT))
    return bool(found.scalar_one_or_none())


def set_public_impact(db: Session, actor: Actor, on: bool, now: datetime) -> None:
    """Turn the public page on or off; a switch already so changes nothing and writes
    no entry."""
    switch = db.get(Switch, SwitchKey.PUBLIC_IMPACT.value)
    before = bool(switch and switch.on)
    if before == on:
        return
    if switch is None:
        switch = Switch(key=SwitchKey.PUBLIC_IMPACT.value, on=on, changed_at=now)
        db.add(switch)
    switch.on = on
    switch.changed_at = now
    record(
        db,
        actor,
        AuditAction.SWITCH_CHANGE,
        AuditObject.SWITCH,
        None,
        now,
        before={SwitchKey.PUBLIC_IMPACT.value: before},
        after={SwitchKey.PUBLIC_IMPACT.value: on},
    )
