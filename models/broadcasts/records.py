"""A broadcast's record: its tables, its statuses, and what the rules refuse.

A broadcast is recorded before anything is sent: its audience and the message in both
languages, so the dry run, the send and the audit trail all describe the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAtMixin, check_one_of
from texts.errors import CatalogError


class AccountType(StrEnum):
    """The kind of Official Account (``wechat.account_type``): a service account sends
    template messages and mass-sends to openid lists; a subscription account mass-sends
    once a day, through a WeChat tag."""

    SERVICE = "service"
    SUBSCRIPTION = "subscription"


class BroadcastStatus(StrEnum):
    """Where a broadcast is: waiting for its time, fanned out, refused by WeChat's mass
    quotas when it came due, or cancelled by staff before it went out."""

    SCHEDULED = "scheduled"
    SENT = "sent"
    REFUSED = "refused"
    CANCELLED = "cancelled"


class Broadcast(CreatedAtMixin, Base):
    __tablename__ = "broadcast"
    __table_args__ = (
        check_one_of("status", BroadcastStatus),
        Index("ix_broadcast_status_scheduled_at", "status", "scheduled_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    text_zh: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("event.id"))
    audience: Mapped[str] = mapped_column(String(80))
    mass: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default=BroadcastStatus.SCHEDULED)
    scheduled_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    excluded_unsubscribed: Mapped[int] = mapped_column(Integer, default=0)
    excluded_opted_out: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)


class BroadcastError(ValueError):
    """A broadcast the rules refuse; the message is one English line for staff."""


class MassQuotaError(BroadcastError, CatalogError):
    """A mass send WeChat's quotas would refuse, said from the catalog (a key
    ``mass_quota_...``): the CLI prints the English line, the console the reader's."""


class BroadcastRecipient(Base):
    """One resident a mass-send request was addressed to, for WeChat's monthly limit."""

    __tablename__ = "broadcast_recipient"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "resident_id"),
        Index("ix_broadcast_recipient_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcast.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"), index=True)
    created_at: Mapped[datetime]


@dataclass(frozen=True)
class BroadcastSettings:
    """What fan-out needs from the configuration (models/ reads no config itself)."""

    tz: ZoneInfo
    account_type: str = AccountType.SERVICE
    default_language: str = "zh"
    # Whether template messages carry broadcasts (``Config.sends_templates_of``), and the
    # subscription notice configured for them: the channels a preview counts by.
    sends_templates: bool = False
    subscribe_template_id: str | None = None
