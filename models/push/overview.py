"""What the console's outbox page reads: how many pushes there are by kind, status and
channel, how long the oldest pending one has waited, and the dead letters with the error
that killed each, a page at a time. ``aixiang outbox stats`` reads the same rows
(models/push/upkeep.py), so the page and the CLI agree."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.base import page_count
from models.push.outbox import OutboxMessage
from models.push.upkeep import as_utc
from models.push.vocabulary import OutboxStatus

PAGE_SIZE = 50


@dataclass(frozen=True)
class OutboxCount:
    """How many rows of ``kind`` are in ``status``, by ``channel`` (None: none chosen)."""

    kind: str
    status: str
    channel: str | None
    count: int


def outbox_counts(db: Session) -> list[OutboxCount]:
    """Counts by kind, status and channel, in that order."""
    rows = db.execute(
        select(OutboxMessage.kind, OutboxMessage.status, OutboxMessage.channel, func.count())
        .group_by(OutboxMessage.kind, OutboxMessage.status, OutboxMessage.channel)
        .order_by(OutboxMessage.kind, OutboxMessage.status, OutboxMessage.channel)
    ).all()
    return [OutboxCount(kind, status, channel, count) for kind, status, channel, count in rows]


def oldest_pending(db: Session) -> datetime | None:
    """When the oldest push still pending was queued, if any is."""
    oldest = db.execute(
        select(func.min(OutboxMessage.created_at)).where(
            OutboxMessage.status == OutboxStatus.PENDING
        )
    ).scalar_one()
    return as_utc(oldest)


@dataclass(frozen=True)
class DeadLetterPage:
    rows: list[OutboxMessage]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return page_count(self.total, self.page_size)


def dead_letters(db: Session, page: int = 1, page_size: int | None = None) -> DeadLetterPage:
    """One page of dead rows, the most recently queued first, and how many there are
    (:data:`PAGE_SIZE` to a page unless told)."""
    page_size = page_size or PAGE_SIZE
    dead = OutboxMessage.status == OutboxStatus.DEAD
    total = db.execute(select(func.count()).where(dead)).scalar_one()
    page = max(1, page)
    rows = db.execute(
        select(OutboxMessage)
        .where(dead)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).scalars()
    return DeadLetterPage(list(rows), int(total), page, page_size)
