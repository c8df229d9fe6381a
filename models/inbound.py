"""Inbound messages: every accepted delivery from WeChat, stored exactly once.

The unique ``dedupe_key`` is the last guard against WeChat's re-sends (it retries a
delivery up to three times when it has no answer in 5 s), and ``reply`` keeps what the
first delivery was answered, so a re-send gets the same answer even when Redis is down.

A delivery is stored together with its reply and whatever its handler changed, in one
transaction, after it is handled (bot/inbound.py): the first of two copies to commit
wins, and the other's transaction is rolled back. A message the handler has not touched
the database for is stored by a single autocommitted statement.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
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
    Integer,
    Select,
    String,
    Table,
    Text,
    Update,
    and_,
    any_,
    bindparam,
    case,
    column,
    func,
    literal,
    literal_column,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

from models import driver_sql
from models.base import Base, vocabulary_constant
from models.inbox.tables import Conversation, ConversationStatus
from models.push.outbox import OutboxMessage
from models.push.registry import PushKind
from models.push.rows import enqueue_push
from models.push.vocabulary import OutboxStatus
from models.residents import MESSAGE_WINDOW, InteractionKind, Resident
from models.upsert import insert_ignoring_conflict

# Column widths the webhook checks a delivery against before storing it (bot/wechat/protocol.py).
DEDUPE_KEY_MAX = 160
MSG_TYPE_MAX = 32
EVENT_MAX = 64


class InboundMessage(Base):
    __tablename__ = "inbound_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    dedupe_key: Mapped[str] = mapped_column(String(DEDUPE_KEY_MAX), unique=True)
    msg_id: Mapped[int | None] = mapped_column(BigInteger)
    msg_type: Mapped[str] = mapped_column(String(MSG_TYPE_MAX))
    event: Mapped[str | None] = mapped_column(String(EVENT_MAX))
    # A menu link's tap (VIEW) carries its URL, which WeChat allows up to 1,024 bytes.
    event_key: Mapped[str | None] = mapped_column(Text)
    content: Mapped[str | None] = mapped_column(Text)
    reply: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(index=True)


@dataclass(frozen=True)
class Contact:
    """What the webhook needs of the resident behind every delivery, from one statement.

    ``has_open_conversation`` says whether the resident has a conversation open with
    staff (models/inbox/), where the chat passes on the words it cannot place: read here,
    the chat's fallback needs no query of its own, and a message it answers writes
    nothing, so the group commit stores it (bot/batches.py).
    """

    resident_id: int
    openid: str
    language: str | None
    has_held_pushes: bool
    has_open_conversation: bool


@dataclass(frozen=True)
class Arrival:
    """What the database knows of a delivery's sender and of the delivery itself.

    ``contact`` is None for someone who has never reached us; ``answered`` is the reply a
    copy of this delivery was stored with ("" for none), None when it was never stored.
    """

    contact: Contact | None
    answered: str | None


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


def look_up(db: Connection, openid: str, dedupe_key: str) -> Arrival:
    """The sender and whether this delivery was stored before, in one read.

    Run outside a transaction it is one autocommitted round trip on PostgreSQL: a read
    takes no locks and writes nothing, so it needs no BEGIN or COMMIT.
    """
    row = _first_row(db, LOOK_UP, {"openid": openid, "dedupe_key": dedupe_key})
    if row is None:
        raise LookupError("the arrival look-up returned no row")
    resident_id, stored_openid, language, has_held_pushes, has_open, inbound_id, reply = row
    contact = None
    if resident_id is not None:
        contact = Contact(
            resident_id, stored_openid, language, bool(has_held_pushes), bool(has_open)
        )
    return Arrival(contact, None if inbound_id is None else reply or "")


def enrol(db: Connection, delivery: NewInbound) -> Contact:
    """Create the resident behind a first contact, committed at once; two first contacts
    arriving together get the same resident."""
    values = _resident_values(delivery)
    statement = _enrol_statement(db.dialect.name, delivery.interaction is not None)
    row = _first_row(db, statement, values)
    if row is None:
        raise LookupError("the resident's upsert returned no row")
    resident_id, openid, language, has_held_pushes, has_open = row
    return Contact(resident_id, openid, language, bool(has_held_pushes), bool(has_open))


def store(db: Connection, delivery: NewInbound, resident_id: int, reply: str) -> bool:
    """Store a handled delivery with its reply and record that its sender reached us;
    False when a copy of it was stored first (its transaction should then be rolled back).

    Joins the transaction the handler's work is in, if any, so the message, its reply and
    its effects commit together; else it is one autocommitted statement. On PostgreSQL an
    insert that meets another transaction's uncommitted copy waits for it, so False means
    "the other copy was committed", never "maybe".
    """
    values = _stored_values(delivery, resident_id, reply)
    interacting = delivery.interaction is not None
    if db.dialect.name == "postgresql":
        return driver_sql.first_row(db, _touch_and_insert(interacting), values) is not None
    with _transaction_of_its_own_unless_in_one(db):
        if interacting:
            db.execute(_TOUCH, values)
        inserted = insert_ignoring_conflict(
            db,
            InboundMessage,
            {name: values[name] for name in _STORED_COLUMNS}
            | {"received_at": delivery.received_at},
            conflict_columns=["dedupe_key"],
        )
    return inserted is not None


# A handled delivery as it is stored: the delivery, its resident's id and its reply.
Handled = tuple[NewInbound, int, str]


def store_together(db: Connection, handled: Sequence[Handled]) -> list[bool]:
    """Store several handled deliveries (each with its resident's id and its reply) in
    one transaction and one commit; for each, as :func:`store` says. On PostgreSQL that is
    one autocommitted statement over a JSON list of their values (:func:`store_batch_statement`).
    A lone delivery is stored as :func:`store` does, a statement cheaper than a batch of
    one. The connection must not be in a transaction."""
    if len(handled) == 1:
        return [store(db, *handled[0])]
    if db.dialect.name == "postgresql":
        return _store_batch(db, handled)
    stored = [False] * len(handled)
    order = sorted(range(len(handled)), key=lambda i: (handled[i][1], handled[i][0].dedupe_key))
    with db.begin():
        for i in order:
            stored[i] = store(db, *handled[i])
    return stored


def _store_batch(db: Connection, handled: Sequence[Handled]) -> list[bool]:
    """PostgreSQL's group store: one statement, one round trip, committed as it answers.
    Two copies of a delivery in one batch store the first of them."""
    answer = driver_sql.first_row(db, store_batch_statement(), store_batch_values(handled))
    inserted = set(answer[0] or ()) if answer is not None else set()
    stored = []
    for new, _, _ in handled:
        stored.append(new.dedupe_key in inserted)
        inserted.discard(new.dedupe_key)
    return stored


def store_batch_values(handled: Sequence[Handled]) -> dict[str, str]:
    """:func:`store_batch_statement`'s one parameter: the batch as a JSON list."""
    records = []
    for position, item in enumerate(handled):
        values = _stored_values(*item)
        records.append({name: values[name] for name in _BATCH_COLUMNS} | {"position": position})
    return {"batch": json.dumps(records, ensure_ascii=False, default=_json_timestamp)}


def _json_timestamp(value: object) -> str:
    """A batch's timestamps, as PostgreSQL reads them back (ISO 8601 with the offset)."""
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} has no place in a stored batch")


def _stored_values(delivery: NewInbound, resident_id: int, reply: str) -> dict[str, Any]:
    return {
        **_resident_values(delivery),
        "resident_id": resident_id,
        "dedupe_key": delivery.dedupe_key,
        "msg_id": delivery.msg_id,
        "msg_type": delivery.msg_type,
        "event": delivery.event,
        "event_key": delivery.event_key,
        "content": delivery.content,
        "reply": reply,
    }


def deferred_reply_payload(reply: str) -> dict[str, Any]:
    """The reply as it was rendered, in the language the resident had when their message
    was handled; both languages carry it, so a switch meanwhile changes nothing."""
    return {"text": {"zh": reply, "en": reply}, "fields": {}}


def queue_deferred_reply(
    db: Session, contact: Contact, dedupe_key: str, reply: str, received_at: datetime, now: datetime
) -> None:
    """Queue the reply to a delivery the webhook could only acknowledge, in the transaction
    that stores the delivery. It is worth sending while the message's 48-hour service
    window lasts, the one channel a free-text answer has."""
    enqueue_push(
        db,
        recipient_openid=contact.openid,
        kind=PushKind.DEFERRED_REPLY,
        payload=deferred_reply_payload(reply),
        idempotency_key=f"{PushKind.DEFERRED_REPLY}:{dedupe_key}",
        now=now,
        resident_id=contact.resident_id,
        expires_at=received_at + MESSAGE_WINDOW,
    )


def stored_reply(db: Connection, dedupe_key: str) -> str | None:
    """What the copy of this delivery that was stored first was answered."""
    return db.execute(_STORED_REPLY, {"dedupe_key": dedupe_key}).scalar_one_or_none()


def _first_row(
    db: Connection, statement: Select[Any] | Insert, values: Mapping[str, Any]
) -> tuple[Any, ...] | None:
    if db.dialect.name == "postgresql":
        return driver_sql.first_row(db, statement, values)
    with _transaction_of_its_own_unless_in_one(db):
        row = db.execute(statement, values).first()
    return None if row is None else tuple(row)


@contextmanager
def _transaction_of_its_own_unless_in_one(db: Connection) -> Iterator[None]:
    """SQLite's spelling of what driver_sql does on PostgreSQL: join the transaction the
    connection is in, or commit on the way out."""
    if db.in_transaction():
        yield
        return
    with db.begin():
        yield


def _resident_values(delivery: NewInbound) -> dict[str, Any]:
    return {
        "openid": delivery.openid,
        "now": delivery.received_at,
        "kind": delivery.interaction,
        "message_window_since": delivery.received_at - MESSAGE_WINDOW,
    }


_TABLE = cast(Table, InboundMessage.__table__)
_RESIDENTS = cast(Table, Resident.__table__)
_STORED_COLUMNS = (
    "resident_id",
    "dedupe_key",
    "msg_id",
    "msg_type",
    "event",
    "event_key",
    "content",
    "reply",
)
_STORED_REPLY = select(_TABLE.c.reply).where(_TABLE.c.dedupe_key == bindparam("dedupe_key"))


def _touch_statement(
    now: ColumnElement[datetime],
    new_kind: ColumnElement[str],
    message_window_since: ColumnElement[datetime],
) -> Update:
    """The sender's last interaction, recorded. A tap (or follow, or scan) leaves in place
    the 48-hour window a typed message opened: replacing it would shrink the resident's
    allowance to the tap's 3 customer-service messages in 1 minute.

    Only a follower can write to the account, so someone known so far only from the
    configuration (a staff openid for the digest, created not subscribed) is marked a
    follower by their first interaction. Someone who unfollowed (``unsubscribed_at``) is
    left as it is: only WeChat's subscribe event says they came back.

    The values are bound parameters for one delivery, or a batch's columns for several
    (:func:`store_batch_statement`); the caller says which rows.
    """
    when = _RESIDENTS.c.last_interaction_at
    kind = _RESIDENTS.c.last_interaction_kind
    keeps_message_window = and_(
        new_kind == InteractionKind.TAP,
        kind == InteractionKind.MESSAGE,
        when > message_window_since,
    )
    never_unfollowed = _RESIDENTS.c.unsubscribed_at.is_(None)
    first_follow = and_(never_unfollowed, _RESIDENTS.c.subscribed_at.is_(None))
    return update(_RESIDENTS).values(
        last_interaction_at=case((keeps_message_window, when), else_=now),
        last_interaction_kind=case((keeps_message_window, kind), else_=new_kind),
        subscribed=case((never_unfollowed, true()), else_=_RESIDENTS.c.subscribed),
        subscribed_at=case((first_follow, now), else_=_RESIDENTS.c.subscribed_at),
    )


_TOUCH = _touch_statement(
    bindparam("now", type_=_RESIDENTS.c.last_interaction_at.type),
    bindparam("kind", type_=_RESIDENTS.c.last_interaction_kind.type),
    bindparam("message_window_since", type_=_RESIDENTS.c.last_interaction_at.type),
).where(_RESIDENTS.c.id == bindparam("resident_id"))


def _look_up_statement() -> Select[Any]:
    """One row whatever is found: the resident's columns are NULL for a newcomer and the
    inbound ones for a delivery never stored. Its columns are in ``look_up``'s order.

    The statuses are written into the SQL, not bound: it runs as a prepared statement,
    whose generic plan can use a partial index (the resident's held pushes, their open
    conversation) only when its predicate's constant is in the statement. Bound, every
    message read all of its sender's pushes, one index entry and row per push ever queued.
    """
    one = select(literal(1).label("one")).subquery("one")
    held = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.resident_id == _RESIDENTS.c.id,
            OutboxMessage.status == vocabulary_constant(OutboxStatus.HELD),
        )
        .exists()
    )
    conversing = (
        select(Conversation.id)
        .where(
            Conversation.resident_id == _RESIDENTS.c.id,
            Conversation.status == vocabulary_constant(ConversationStatus.OPEN),
        )
        .exists()
    )
    return select(
        _RESIDENTS.c.id,
        _RESIDENTS.c.openid,
        _RESIDENTS.c.language,
        held.label("has_held_pushes"),
        conversing.label("has_open_conversation"),
        _TABLE.c.id.label("inbound_id"),
        _TABLE.c.reply,
    ).select_from(
        one.outerjoin(_RESIDENTS, _RESIDENTS.c.openid == bindparam("openid")).outerjoin(
            _TABLE, _TABLE.c.dedupe_key == bindparam("dedupe_key")
        )
    )


# The statement :func:`look_up` runs for every delivery; public so that tests can check
# its prepared plan (tests/test_prepared_plans.py).
LOOK_UP = _look_up_statement()


@lru_cache(maxsize=8)
def _enrol_statement(dialect: str, interacting: bool) -> Insert:
    """INSERT ... ON CONFLICT DO UPDATE ... RETURNING the resident, built once."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(_RESIDENTS).values(
        openid=bindparam("openid"),
        subscribed=True,
        subscribed_at=bindparam("now"),
        created_at=bindparam("now"),
        broadcast_opt_out=False,
        last_interaction_at=bindparam("now") if interacting else None,
        last_interaction_kind=bindparam("kind") if interacting else None,
    )
    # An update that changes nothing still makes RETURNING answer for a row that exists.
    touched = {"openid": statement.excluded.openid}
    # Spelled out: SQLAlchemy writes RETURNING columns without their table, which leaves
    # a correlated subquery's "id" ambiguous.
    held = literal_column(
        "EXISTS (SELECT 1 FROM outbox WHERE outbox.resident_id = resident.id"
        f" AND outbox.status = '{OutboxStatus.HELD}')",
        Boolean,
    ).label("has_held_pushes")
    conversing = literal_column(
        "EXISTS (SELECT 1 FROM conversation WHERE conversation.resident_id = resident.id"
        f" AND conversation.status = '{ConversationStatus.OPEN}')",
        Boolean,
    ).label("has_open_conversation")
    return statement.on_conflict_do_update(index_elements=["openid"], set_=touched).returning(
        _RESIDENTS.c.id, _RESIDENTS.c.openid, _RESIDENTS.c.language, held, conversing
    )


# A batch's values, one JSON object per delivery, by the type of the column each is
# stored in; "position" is the delivery's place in the batch.
_BATCH_COLUMNS: dict[str, TypeEngine[Any]] = {
    **{name: _TABLE.c[name].type for name in _STORED_COLUMNS},
    "now": _TABLE.c.received_at.type,
    "kind": _RESIDENTS.c.last_interaction_kind.type,
    "message_window_since": _RESIDENTS.c.last_interaction_at.type,
}


@lru_cache(maxsize=1)
def store_batch_statement() -> Select[Any]:
    """PostgreSQL: the inbound rows of a batch and their senders' last interactions in one
    statement, answering the keys it stored (a copy stored first is skipped).

    One row per resident is touched, a typed message's over a tap's (the longer window),
    else the latest. Every wait happens while the senders' rows are locked, in id order,
    before the first insert, so two batches never wait for each other: a batch that
    meets another's uncommitted copy of a delivery has already waited for that copy's
    sender. Storing senders' rows in another order deadlocked in a stress of six
    threads on ten residents.

    The batch is one JSON parameter, a list of one object per delivery: bound as one
    array per column, psycopg's array dumpers (Python code, eleven arrays a batch) were
    7% of a served worker's CPU (py-spy, bench/webhook.py, 2026-12-03). The senders are
    found by primary key, ``id = ANY(ARRAY(...))``: PostgreSQL expects 100 rows of any
    JSON record set, and joined to a batch it thinks that large, it read the whole
    resident table twice a batch (public for tests/test_prepared_plans.py).
    """
    fields = [
        column(name, type_) for name, type_ in (*_BATCH_COLUMNS.items(), ("position", Integer()))
    ]
    values = (
        func.jsonb_to_recordset(bindparam("batch", type_=Text).cast(postgresql.JSONB))
        .table_valued(*fields)
        .render_derived(name="delivery", with_types=True)
    )
    batch = select(values).cte("batch")
    sender = _RESIDENTS.c.id == any_(func.array(select(batch.c.resident_id).scalar_subquery()))
    # Every sender's row, locked in id order before anything else is written (the
    # count cannot be known before the last lock), as the touch will (FOR NO KEY UPDATE;
    # FOR UPDATE would also block the KEY SHARE that inserts take on their senders).
    locked = (
        select(_RESIDENTS.c.id)
        .where(sender)
        .order_by(_RESIDENTS.c.id)
        .with_for_update(key_share=True)
        .cte("locked")
        .prefix_with("MATERIALIZED")
    )
    senders_locked = select(func.count()).select_from(locked).scalar_subquery() >= 0
    inbound = (
        postgresql.insert(_TABLE)
        .from_select(
            [*_STORED_COLUMNS, "received_at"],
            select(*(batch.c[name] for name in _STORED_COLUMNS), batch.c.now)
            .where(senders_locked)
            .order_by(batch.c.dedupe_key, batch.c.position),
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(_TABLE.c.dedupe_key)
        .cte("inbound")
    )
    interaction = (
        select(batch.c.resident_id, batch.c.kind, batch.c.now, batch.c.message_window_since)
        .where(batch.c.kind.is_not(None))
        .ext(postgresql.distinct_on(batch.c.resident_id))
        .order_by(
            batch.c.resident_id,
            (batch.c.kind == InteractionKind.MESSAGE).desc(),
            batch.c.now.desc(),
        )
        .cte("interaction")
    )
    touch = (
        _touch_statement(interaction.c.now, interaction.c.kind, interaction.c.message_window_since)
        .where(_RESIDENTS.c.id == interaction.c.resident_id, sender)
        .cte("touch")
    )
    return select(func.array_agg(inbound.c.dedupe_key)).add_cte(touch)


@lru_cache(maxsize=2)
def _touch_and_insert(interacting: bool) -> Select[Any]:
    """PostgreSQL: the sender's last interaction and the inbound row in one statement,
    answering the new row's id, or nothing when a copy was stored first."""
    inbound = (
        postgresql.insert(_TABLE)
        .values(
            {name: bindparam(name) for name in _STORED_COLUMNS} | {"received_at": bindparam("now")}
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(_TABLE.c.id)
        .cte("inbound")
    )
    if interacting:
        touch = _TOUCH.cte("touch")
        return select(inbound.c.id).add_cte(touch)
    return select(inbound.c.id)
