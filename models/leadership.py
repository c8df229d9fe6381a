"""The scheduler's fencing token: which leader's jobs may still write.

One scheduler leads at a time by a Redis lock with an expiry (scheduler/leader.py). A
leader that was paused (SIGSTOP, a long GC, a VM stall) past its lease wakes up believing
it still leads while another has taken over; a lock alone cannot stop its jobs. So every
new leader takes the next token here (:func:`take_token`), and each job's transaction
starts by reading the row (:func:`token_is`) under a share lock: a stale leader finds a
newer token and writes nothing.

The counter lives in this table rather than in Redis (an INCR key) for two reasons: the
check runs inside the very transaction whose writes it guards, so the share lock orders
it against the new leader's update (a stale job that checked first commits before the new
leader's first job starts; one that checks after sees the new token); and a Redis restart
that lost the key would restart an INCR count from 1, below the tokens already handed out,
while this row only ever grows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base

FENCE_ID = 1


class SchedulerFence(Base):
    __tablename__ = "scheduler_fence"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[int] = mapped_column(BigInteger)
    leader: Mapped[str] = mapped_column(String(64))
    taken_at: Mapped[datetime]


def take_token(db: Session, leader: str, now: datetime) -> int:
    """The next token, recorded as the current one for ``leader``; every job of an
    earlier leader is refused from now on (or, if running, commits before this returns)."""
    taken = db.execute(
        update(SchedulerFence)
        .where(SchedulerFence.id == FENCE_ID)
        .values(token=SchedulerFence.token + 1, leader=leader, taken_at=now)
        .returning(SchedulerFence.token)
    ).scalar()
    if taken is not None:
        return int(taken)
    db.add(SchedulerFence(id=FENCE_ID, token=1, leader=leader, taken_at=now))
    db.flush()
    return 1


def token_is(connection: Connection, token: int) -> bool:
    """Whether ``token`` is still the current one. Called first in a transaction: the share
    lock holds off a new leader's :func:`take_token` until the transaction ends."""
    current = connection.execute(
        select(SchedulerFence.token).where(SchedulerFence.id == FENCE_ID).with_for_update(read=True)
    ).scalar()
    return current == token
