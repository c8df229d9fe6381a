"""Partner organisations: who takes needs on and co-hosts events.

Needs and events both refer to partners, so partners live apart from either, and
neither domain imports the other for them. Adding one is audited in the caller's
transaction.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.audit import Actor, AuditAction, AuditObject, record
from models.base import ID_MAX, Base, CreatedAtMixin, check_one_of
from models.residents import OPENID_MAX


class PartnerKind(StrEnum):
    """What sort of organisation a partner is, for staff lists and reports."""

    GOVERNMENT = "government"
    ENTERPRISE = "enterprise"
    NGO = "ngo"
    SCHOOL = "school"
    VOLUNTEER = "volunteer"


class PartnerError(ValueError):
    """A partner request the rules refuse; the message is one sentence for the person who
    asked."""


class Partner(CreatedAtMixin, Base):
    __tablename__ = "partner"
    __table_args__ = (check_one_of("kind", PartnerKind),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    contact_openid: Mapped[str | None] = mapped_column(String(OPENID_MAX))


def add_partner(
    db: Session,
    actor: Actor,
    *,
    name: str,
    kind: str,
    now: datetime,
    contact_openid: str | None = None,
) -> Partner:
    """A new partner, checked whole before anything is written."""
    name = name.strip()
    if not name:
        raise PartnerError("a partner needs a name")
    if len(name) > 100:
        raise PartnerError("a partner name is at most 100 characters")
    if kind not in tuple(PartnerKind):
        raise PartnerError(f"unknown partner kind {kind!r}; use one of {', '.join(PartnerKind)}")
    contact = (contact_openid or "").strip() or None
    if contact is not None and len(contact) > OPENID_MAX:
        # Checked here, not left to the column: PostgreSQL would refuse it with a traceback.
        raise PartnerError(
            f"a contact openid is at most {OPENID_MAX} characters (WeChat's are 28), "
            f"got {len(contact)}"
        )
    if db.execute(select(Partner.id).where(Partner.name == name)).first() is not None:
        raise PartnerError(f"a partner named {name!r} exists already")
    partner = Partner(name=name, kind=kind, contact_openid=contact, created_at=now)
    db.add(partner)
    db.flush()
    after = {"name": name, "kind": kind, "contact_openid": contact}
    record(db, actor, AuditAction.PARTNER_ADD, AuditObject.PARTNER, partner.id, now, after=after)
    return partner


def get_partner(db: Session, name: str) -> Partner:
    """A partner by its exact name (case-insensitive) or its id."""
    text = name.strip()
    partner = db.execute(
        select(Partner).where(func.lower(Partner.name) == text.lower())
    ).scalar_one_or_none()
    if partner is None and text.isdecimal() and int(text) <= ID_MAX:
        partner = db.get(Partner, int(text))
    if partner is None:
        raise PartnerError(f"no partner {name!r} (see: aixiang partners list)")
    return partner


def list_partners(db: Session) -> list[Partner]:
    return list(db.execute(select(Partner).order_by(Partner.name)).scalars())


def partner_name(db: Session, partner_id: int | None) -> str | None:
    partner = db.get(Partner, partner_id) if partner_id is not None else None
    return partner.name if partner is not None else None
