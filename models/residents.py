"""Residents: one row per WeChat follower (openid), kept across unfollow and re-follow."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, String, bindparam, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, CreatedAtMixin, check_one_of
from models.upsert import insert_ignoring_conflict
from texts.catalog import Language


class InteractionKind(StrEnum):
    """How the resident last reached us: WeChat allows a different number of
    customer-service messages after a typed message (5 in 48 h) than after a tap, follow or
    scan (3 in 1 min)."""

    MESSAGE = "message"
    TAP = "tap"


MESSAGE_WINDOW = timedelta(hours=48)
# WeChat's openids are 28 characters; the webhook refuses a sender longer than this.
OPENID_MAX = 64


class Resident(CreatedAtMixin, Base):
    __tablename__ = "resident"
    __table_args__ = (
        check_one_of("language", Language),
        check_one_of("last_interaction_kind", InteractionKind),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str] = mapped_column(String(OPENID_MAX), unique=True)
    subscribed: Mapped[bool] = mapped_column(Boolean, default=True)
    subscribed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
    language: Mapped[str | None] = mapped_column(String(8))
    last_interaction_at: Mapped[datetime | None] = mapped_column(index=True)
    last_interaction_kind: Mapped[str | None] = mapped_column(String(16))
    broadcast_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str | None] = mapped_column(String(64))
    mobile: Mapped[str | None] = mapped_column(String(20))
    # Consent is per purpose: keeping contact details for events, and the needs notice.
    contact_consent_at: Mapped[datetime | None]
    privacy_consent_at: Mapped[datetime | None]
    # Where they live (models/villages), and when they were asked: asked once, answered
    # or not, and changed with 我的村 whenever they like.
    village_id: Mapped[int | None] = mapped_column(ForeignKey("village.id"), index=True)
    village_asked_at: Mapped[datetime | None]


def get_or_create_resident(
    db: Session, openid: str, now: datetime, *, followed: bool = True
) -> Resident:
    """The resident for ``openid``, created on first contact; safe under concurrent firsts.

    Nearly every message comes from someone already known, so the row is looked up first
    and the insert (whose conflict handling covers two first messages at once) only runs
    for a newcomer: one statement per message instead of two.

    ``followed=False`` creates someone we only know from configuration (a staff openid
    for the digest) as not subscribed, with no subscribed_at, so broadcasts to everyone
    leave them out until WeChat tells us they followed (the subscribe event). Pushes
    still go to them: they are not known to have unfollowed (no ``unsubscribed_at``).
    """
    resident = db.execute(_BY_OPENID, {"openid": openid}).scalar_one_or_none()
    if resident is not None:
        return resident
    insert_ignoring_conflict(
        db,
        Resident,
        {
            "openid": openid,
            "subscribed": followed,
            "subscribed_at": now if followed else None,
            "created_at": now,
            "broadcast_opt_out": False,
        },
        conflict_columns=["openid"],
    )
    return db.execute(_BY_OPENID, {"openid": openid}).scalar_one()


# Built once: the webhook looks a resident up on every message.
_BY_OPENID = select(Resident).where(Resident.openid == bindparam("openid"))


def mark_subscribed(resident: Resident, now: datetime) -> None:
    if not resident.subscribed or resident.subscribed_at is None:
        resident.subscribed_at = now
    resident.subscribed = True


def mark_unsubscribed(resident: Resident, now: datetime) -> None:
    """Nothing is pushed to an unsubscribed resident; the row stays for the records."""
    resident.subscribed = False
    resident.unsubscribed_at = now
