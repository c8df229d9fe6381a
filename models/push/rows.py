"""New outbox rows: the one builder every enqueuer, single or bulk, goes through.

:func:`push_row` is the builder; :func:`enqueue_push` writes one row of it, and
:func:`insert_push_rows` writes its set-based form, one row per row a SELECT finds, in
one INSERT ... SELECT inside the database, so a million rows never cross the wire.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ColumnElement, SQLColumnExpression, cast, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from models.push.outbox import OutboxMessage
from models.push.registry import PushKind
from models.push.vocabulary import OutboxStatus
from models.upsert import insert_ignoring_conflict


def push_row(
    *,
    kind: PushKind,
    recipient_openid: str,
    payload: dict[str, Any],
    idempotency_key: str,
    now: datetime,
    resident_id: int | None = None,
    expires_at: datetime | None = None,
    not_before: datetime | None = None,
) -> dict[str, Any]:
    """The column values of one new outbox row: every enqueuer, single or bulk, builds its
    rows here, so a queued push always starts out the same way."""
    return {
        "resident_id": resident_id,
        "recipient_openid": recipient_openid,
        "kind": kind,
        "payload": payload,
        "idempotency_key": idempotency_key,
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": not_before or now,
        "expires_at": expires_at,
        "created_at": now,
    }


def enqueue_push(
    db: Session,
    *,
    recipient_openid: str,
    kind: PushKind,
    payload: dict[str, Any],
    idempotency_key: str,
    now: datetime,
    resident_id: int | None = None,
    expires_at: datetime | None = None,
    not_before: datetime | None = None,
) -> int | None:
    """Record a push to deliver; returns its id, or None if this key was queued before."""
    return insert_ignoring_conflict(
        db,
        OutboxMessage,
        push_row(
            kind=kind,
            recipient_openid=recipient_openid,
            payload=payload,
            idempotency_key=idempotency_key,
            now=now,
            resident_id=resident_id,
            expires_at=expires_at,
            not_before=not_before,
        ),
        conflict_columns=["idempotency_key"],
    )


def reader_text(payload: dict[str, Any], language: str | None, default_language: str) -> str:
    """A row's text in the language its reader reads: the payload's own ``language`` when
    the push names one (a report to a console account, read in the account's language),
    else ``language`` (the resident's), else the default. ValueError if it carries no text."""
    texts = payload.get("text")
    if not isinstance(texts, dict) or not texts:
        raise ValueError("the push carries no text")
    chosen = payload.get("language") or language or default_language
    return str(texts.get(chosen) or texts.get(default_language) or next(iter(texts.values())))


def insert_push_rows(
    db: Session,
    *,
    kind: PushKind,
    payload: dict[str, Any],
    now: datetime,
    per_row: dict[str, SQLColumnExpression[Any]],
    where: Sequence[ColumnElement[bool]],
    expires_at: datetime | None = None,
    not_before: datetime | None = None,
) -> int:
    """:func:`push_row` for every row ``where`` selects, in one INSERT ... SELECT: the
    values every row shares bound once, and ``per_row`` (at least ``recipient_openid``
    and ``idempotency_key``, as SQL over the selected tables) computed by the database
    for each. A key queued before is skipped, as :func:`enqueue_push` skips it; returns
    how many rows were written."""
    shared = push_row(
        kind=kind,
        recipient_openid="",
        payload=payload,
        idempotency_key="",
        now=now,
        expires_at=expires_at,
        not_before=not_before,
    )
    columns: dict[str, SQLColumnExpression[Any]] = {
        name: _bound(db, name, value) for name, value in shared.items()
    }
    columns.update(per_row)
    on_postgresql = db.get_bind().dialect.name == "postgresql"
    insert = postgresql.insert if on_postgresql else sqlite.insert
    statement = (
        insert(OutboxMessage)
        .from_select(list(columns), select(*columns.values()).where(*where))
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
    )
    # The session's connection, in its transaction: its result says how many were written.
    return db.connection().execute(statement).rowcount


def _bound(db: Session, name: str, value: Any) -> ColumnElement[Any]:
    """An outbox column's value bound in a SELECT list, typed as its column. A JSON value
    needs its type spelled out on PostgreSQL, while SQLite would turn CAST(... AS JSON)
    into a number."""
    column_type = OutboxMessage.__table__.c[name].type
    bound = literal(value, column_type)
    if isinstance(column_type, JSON) and db.get_bind().dialect.name == "postgresql":
        return cast(bound, JSON)
    return bound
