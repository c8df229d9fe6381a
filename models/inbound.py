"""Inbound messages: every accepted delivery from WeChat, stored exactly once.

The unique ``dedupe_key`` is the last guard against WeChat's re-sends (it retries a
delivery up to three times when it has no answer in 5 s), and ``reply`` keeps what the
first delivery was answered, so a re-send gets the same answer even when Redis is down.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    ForeignKey,
    Insert,
    Row,
    Select,
    String,
    Table,
    Text,
    bindparam,
    literal_column,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from models import driver_sql
from models.base import Base
from models.outbox import HELD
from models.residents import Resident
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


@dataclass(frozen=True)
class Contact:
    """What the webhook needs of the resident behind every delivery, from one statement."""

    resident_id: int
    openid: str
    language: str | None
    has_held_pushes: bool


@dataclass(frozen=True)
class NewInbound:
    """A delivery as it is stored; ``interaction`` None means it opens no service window
    (unfollowing), so the resident's last interaction is left as it was."""

    openid: str
    interaction: str | None
    dedupe_key: str
    msg_id: int | None
    msg_type: str
    event: str | None
    event_key: str | None
    content: str | None
    received_at: datetime


def record_delivery(db: Connection, delivery: NewInbound) -> tuple[Contact, int | None]:
    """Record that the resident reached us (created on first contact) and store the
    delivery; the inbound id is None when it was stored before (a re-send).

    Stored before it is handled, so a re-send that got past Redis finds the row (waiting
    for the first copy's transaction if need be) and is never handled twice. On
    PostgreSQL it is one statement, which also says whether pushes wait for the reply, so
    the usual message costs no other look-up; SQLite takes two.
    """
    values = {
        "openid": delivery.openid,
        "now": delivery.received_at,
        "kind": delivery.interaction,
        "dedupe_key": delivery.dedupe_key,
        "msg_id": delivery.msg_id,
        "msg_type": delivery.msg_type,
        "event": delivery.event,
        "event_key": delivery.event_key,
        "content": delivery.content,
    }
    interacting = delivery.interaction is not None
    if db.dialect.name == "postgresql":
        resident_id, openid, language, has_held_pushes, inbound_id = driver_sql.fetch_one(
            db, _contact_and_inbound(interacting), values
        )
        contact = Contact(resident_id, openid, language, bool(has_held_pushes))
        return contact, inbound_id
    contact = _contact(db.execute(_contact_statement("sqlite", interacting), values).one())
    stored = {k: v for k, v in values.items() if k not in ("openid", "now", "kind")}
    inbound_id = insert_ignoring_conflict(
        db,
        InboundMessage,
        {**stored, "resident_id": contact.resident_id, "received_at": delivery.received_at},
        conflict_columns=["dedupe_key"],
    )
    return contact, inbound_id


def record_reply(db: Connection, inbound_id: int, reply: str) -> None:
    """Keep what a delivery was answered, for its re-sends when Redis has forgotten."""
    values = {"inbound_id": inbound_id, "reply": reply}
    if db.dialect.name == "postgresql":
        driver_sql.execute(db, _SET_REPLY, values)
    else:
        db.execute(_SET_REPLY, values)


def stored_reply(db: Connection, dedupe_key: str) -> str | None:
    """What the first delivery with this key was answered, if it has finished."""
    return db.execute(_STORED_REPLY, {"dedupe_key": dedupe_key}).scalar_one_or_none()


_TABLE = cast(Table, InboundMessage.__table__)
_SET_REPLY = (
    update(_TABLE).where(_TABLE.c.id == bindparam("inbound_id")).values(reply=bindparam("reply"))
)
_STORED_REPLY = select(_TABLE.c.reply).where(_TABLE.c.dedupe_key == bindparam("dedupe_key"))


def _contact(row: Row[Any]) -> Contact:
    return Contact(
        resident_id=row.id,
        openid=row.openid,
        language=row.language,
        has_held_pushes=bool(row.has_held_pushes),
    )


@lru_cache(maxsize=8)
def _contact_statement(dialect: str, interacting: bool) -> Insert:
    """INSERT ... ON CONFLICT DO UPDATE ... RETURNING the resident, built once."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    residents = cast(Table, Resident.__table__)
    statement = insert(residents).values(
        openid=bindparam("openid"),
        subscribed=True,
        subscribed_at=bindparam("now"),
        created_at=bindparam("now"),
        broadcast_opt_out=False,
        last_interaction_at=bindparam("now") if interacting else None,
        last_interaction_kind=bindparam("kind") if interacting else None,
    )
    # An update that changes nothing still locks the row and makes RETURNING answer.
    touched = (
        {
            "last_interaction_at": statement.excluded.last_interaction_at,
            "last_interaction_kind": statement.excluded.last_interaction_kind,
        }
        if interacting
        else {"openid": statement.excluded.openid}
    )
    # Spelled out: SQLAlchemy writes RETURNING columns without their table, which leaves
    # a correlated subquery's "id" ambiguous.
    held = literal_column(
        "EXISTS (SELECT 1 FROM outbox WHERE outbox.resident_id = resident.id"
        f" AND outbox.status = '{HELD}')",
        Boolean,
    ).label("has_held_pushes")
    return statement.on_conflict_do_update(index_elements=["openid"], set_=touched).returning(
        residents.c.id, residents.c.openid, residents.c.language, held
    )


@lru_cache(maxsize=2)
def _contact_and_inbound(interacting: bool) -> Select[Any]:
    """PostgreSQL: the resident's upsert and the inbound insert in one round trip; its
    columns are in the order ``record_delivery`` unpacks them."""
    contact = _contact_statement("postgresql", interacting).cte("contact")
    inbound = (
        postgresql.insert(_TABLE)
        .from_select(
            [
                "resident_id",
                "dedupe_key",
                "msg_id",
                "msg_type",
                "event",
                "event_key",
                "content",
                "received_at",
            ],
            select(
                contact.c.id,
                bindparam("dedupe_key", type_=_TABLE.c.dedupe_key.type),
                bindparam("msg_id", type_=_TABLE.c.msg_id.type),
                bindparam("msg_type", type_=_TABLE.c.msg_type.type),
                bindparam("event", type_=_TABLE.c.event.type),
                bindparam("event_key", type_=_TABLE.c.event_key.type),
                bindparam("content", type_=_TABLE.c.content.type),
                bindparam("now", type_=_TABLE.c.received_at.type),
            ),
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(_TABLE.c.id)
        .cte("inbound")
    )
    return select(
        contact.c.id,
        contact.c.openid,
        contact.c.language,
        contact.c.has_held_pushes,
        inbound.c.id.label("inbound_id"),
    ).select_from(contact.outerjoin(inbound, true()))
