"""Residents' one-time consents to subscription notices: each "allow" in WeChat's pop-up
pays for one notice of that template, spent by the worker when no other channel can
carry a push (scheduler/worker.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base


class SubscriptionConsent(Base):
    """One "allow" a resident gave in WeChat's subscription-notice pop-up: one notice each."""

    __tablename__ = "subscription_consent"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    template_id: Mapped[str] = mapped_column(String(128))
    accepted_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


def record_consents(
    db: Session, resident_id: int, accepted_template_ids: list[str], now: datetime
) -> None:
    for template_id in accepted_template_ids:
        db.add(
            SubscriptionConsent(resident_id=resident_id, template_id=template_id, accepted_at=now)
        )


def use_consent(db: Session, resident_id: int, template_id: str, now: datetime) -> bool:
    """Spend one unused consent for ``template_id``; False when the resident has none left."""
    consent = db.execute(
        select(SubscriptionConsent)
        .where(
            SubscriptionConsent.resident_id == resident_id,
            SubscriptionConsent.template_id == template_id,
            SubscriptionConsent.used_at.is_(None),
        )
        .order_by(SubscriptionConsent.accepted_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).scalar_one_or_none()
    if consent is None:
        return False
    consent.used_at = now
    return True


def has_consent(db: Session, resident_id: int, template_id: str) -> bool:
    """Whether the resident has an unused consent for ``template_id``, without spending
    it: what the console reads to say how an answer will go out."""
    return (
        db.execute(
            select(SubscriptionConsent.id)
            .where(
                SubscriptionConsent.resident_id == resident_id,
                SubscriptionConsent.template_id == template_id,
                SubscriptionConsent.used_at.is_(None),
            )
            .limit(1)
        ).first()
        is not None
    )
