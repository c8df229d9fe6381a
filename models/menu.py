"""The account's custom menu: WeChat holds it and the config says what it is, so the
only record here is who pushed it, when, with which buttons. Every follower sees the
change at once, so it is audited like any other."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from models.audit import Actor, AuditAction, AuditObject, record


def menu_pushed(db: Session, actor: Actor, buttons: Sequence[str], now: datetime) -> None:
    """Audit ``actor``'s push of a menu with these top-level buttons, in the transaction
    that commits only once WeChat accepted the menu."""
    after = {"buttons": ", ".join(buttons)}
    record(db, actor, AuditAction.MENU_PUSH, AuditObject.MENU, None, now, after=after)
