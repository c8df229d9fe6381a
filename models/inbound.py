"""Inbound messages: every accepted delivery from WeChat, stored exactly once.

The unique ``dedupe_key`` is the last guard against WeChat's re-sends (it retries a
delivery up to three times when it has no answer in 5 s), and ``reply`` keeps what the
first delivery was answered, so a re-send gets the same answer even when Redis is down.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import BigInteger, ForeignKey, String, Table, Text, bindparam, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base
from models.upsert import insert_ignoring_conflict


class InboundMessage(Base):
    __tablename__ = "inbound_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    msg_id: Mapped[int | None] = mapped_column(BigInteger)
    msg_type: Mapped[str] = mapped_column(String(32))
    event: Mapped[str | None] = mapped_column(String(64))
    event_key: Mapped[str | None] = mapped_column(String(255))
    content: Mapped[str | None] = mapped_column(Text)
    reply: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(index=True)


def record_inbound(
    db: Session,
    *,
    resident_id: int,
    dedupe_key: str,
    msg_id: int | None,
    msg_type: str,
    event: str | None,
    event_key: str | None,
    content: str | None,
    received_at: datetime,
) -> int | None:
    """Store a delivery and return its id, or None when it was stored before (a re-send).

    Only the id comes back, not a loaded row: the webhook writes nothing to the row but
    its reply (:func:`record_reply`), so loading it would cost a SELECT per message.
    """
    return insert_ignoring_conflict(
        db,
        InboundMessage,
        {
            "resident_id": resident_id,
            "dedupe_key": dedupe_key,
            "msg_id": msg_id,
            "msg_type": msg_type,
            "event": event,
            "event_key": event_key,
            "content": content,
            "received_at": received_at,
        },
        conflict_columns=["dedupe_key"],
    )


def record_reply(db: Session, inbound_id: int, reply: str) -> None:
    """Keep what a delivery was answered, for its re-sends when Redis has forgotten."""
    db.execute(_SET_REPLY, {"inbound_id": inbound_id, "reply": reply})


_TABLE = cast(Table, InboundMessage.__table__)
_SET_REPLY = (
    update(_TABLE).where(_TABLE.c.id == bindparam("inbound_id")).values(reply=bindparam("reply"))
)


def stored_reply(db: Session, dedupe_key: str) -> str | None:
    """What the first delivery with this key was answered, if it has finished."""
    return db.execute(
        select(InboundMessage.reply).where(InboundMessage.dedupe_key == dedupe_key)
    ).scalar_one_or_none()
