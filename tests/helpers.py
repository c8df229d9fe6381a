"""Read-backs every kind of test shares: what the database holds after a test acted.

Each helper reads in a session of its own, so a test sees what was committed, as the
next request or worker batch would; the ``*_in`` forms read inside a session a test holds.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.services import Services
from models.events import Signup
from models.outbox import OutboxMessage
from models.residents import Resident


def count_in(db: Session, model: type, *where: Any) -> int:
    """How many rows of ``model`` match ``where``, as ``db`` sees them."""
    return int(db.execute(select(func.count()).select_from(model).where(*where)).scalar_one())


def count(services: Services, model: type, *where: Any) -> int:
    """How many committed rows of ``model`` match ``where``."""
    with services.session_factory() as db:
        return count_in(db, model, *where)


def resident(services: Services, openid: str) -> Resident:
    """The resident behind ``openid``; there must be exactly one."""
    with services.session_factory() as db:
        return db.execute(select(Resident).where(Resident.openid == openid)).scalar_one()


def signups(services: Services, event_id: int) -> list[Signup]:
    """An event's sign-ups in the order they were made, cancelled ones included."""
    with services.session_factory() as db:
        query = select(Signup).where(Signup.event_id == event_id).order_by(Signup.id)
        return list(db.execute(query).scalars())


def pushes_in(db: Session, kind: str | None = None) -> list[OutboxMessage]:
    """Outbox rows (of one ``kind``, or all) in the order they were queued."""
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if kind is not None:
        query = query.where(OutboxMessage.kind == kind)
    return list(db.execute(query).scalars())


def pushes(services: Services, kind: str | None = None) -> list[OutboxMessage]:
    """Committed outbox rows (of one ``kind``, or all) in the order they were queued."""
    with services.session_factory() as db:
        return pushes_in(db, kind)
