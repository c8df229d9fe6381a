"""New outbox rows: the one builder every enqueuer, single or bulk, goes through."""

from __future__ import annotations

from datetime import datetime
from typing import Any

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
