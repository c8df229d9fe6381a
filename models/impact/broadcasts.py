"""Broadcast reach: how many broadcasts went out in the period and to how many
residents, as fan-out recorded it (``broadcast.recipients``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.broadcasts.records import Broadcast, BroadcastStatus
from models.impact.scope import ImpactScope


@dataclass(frozen=True)
class Reach:
    broadcasts: int
    recipients: int


def broadcast_reach(db: Session, scope: ImpactScope) -> Reach | None:
    """The period's sent broadcasts and their recipients; none for a village or a
    partner, since a broadcast belongs to neither (and a tag is an audience of its own,
    not an event's, so it does not narrow them)."""
    if not scope.whole_club:
        return None
    sent, recipients = db.execute(
        select(func.count(), func.coalesce(func.sum(Broadcast.recipients), 0)).where(
            Broadcast.status == BroadcastStatus.SENT,
            Broadcast.sent_at >= scope.start,
            Broadcast.sent_at < scope.end,
        )
    ).one()
    return Reach(int(sent), int(recipients))
