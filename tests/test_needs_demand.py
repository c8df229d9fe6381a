"""A need's stored demand (need.demand) always equals the count from the links, whatever
sequence of changes got it there; the queue's sort by demand keeps its order; and the
migration that added the column counts the needs already linked (tests/test_migrations.py)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from bot.services import Services
from models.db import make_engine, make_session_factory
from models.needs.demand import counted_demand, recount_every_demand
from models.needs.erasure import erase_resident_data
from models.needs.queries import list_needs, other_residents
from models.needs.queue import AckDeadlines, QueueFilter, QueueSort, queue_page
from models.needs.submission import create_need
from models.needs.tables import OPEN_STATUSES, TRANSITIONS, Need, NeedStatus
from models.needs.transitions import change_status
from models.residents import Resident, get_or_create_resident
from tests.conftest import FakeClock
from tests.test_events_concurrency import all_at_once

DEADLINES = AckDeadlines({}, default=3)
OPENIDS = [f"o-{n}" for n in range(6)]


@pytest.fixture
def db(services: Services) -> Iterator[Session]:
    with services.session_factory() as session:
        yield session


def assert_stored_equals_counted(db: Session) -> None:
    db.expire_all()
    stored = dict(db.execute(select(Need.id, Need.demand)).all())
    assert stored == counted_demand(db, list(stored))


def new_need(db: Session, openid: str, now: datetime) -> Need:
    resident = get_or_create_resident(db, openid, now)
    resident.privacy_consent_at = now
    return create_need(db, resident=resident, category="environment", description="灯", now=now)


def mark_duplicate(db: Session, rng: random.Random, now: datetime) -> None:
    """A need still open marked a duplicate of any other need (a duplicate stands for its
    original): the needs merged into it move along."""
    needs = list(db.execute(select(Need).order_by(Need.id)).scalars())
    movable = [need for need in needs if NeedStatus.DUPLICATE in TRANSITIONS[need.status]]
    if len(needs) < 2 or not movable:
        return
    need = rng.choice(movable)
    target = rng.choice([other for other in needs if other.id != need.id])
    if target.duplicate_of_id == need.id:
        return  # would be the need's own duplicate: refused, tested elsewhere
    change_status(db, need, NeedStatus.DUPLICATE, "王", "同一件事", False, now, duplicate_of=target)


def erase(db: Session, rng: random.Random, now: datetime) -> None:
    residents = list(db.execute(select(Resident).order_by(Resident.id)).scalars())
    if residents:
        erase_resident_data(db, rng.choice(residents), now)


def acknowledge(db: Session, rng: random.Random, now: datetime) -> None:
    submitted = list(db.execute(select(Need).where(Need.status == NeedStatus.SUBMITTED)).scalars())
    if submitted:
        change_status(db, rng.choice(submitted), NeedStatus.ACKNOWLEDGED, "王", None, False, now)


@pytest.mark.parametrize("seed", range(4))
def test_stored_demand_equals_the_count_after_every_change(
    db: Session, clock: FakeClock, seed: int
) -> None:
    """Random needs from a few residents (so one resident says "me too" twice, and one
    raises both sides), marked duplicates of each other, of duplicates and of needs that
    have duplicates, acknowledged, and erased, in a random order: after each change is
    committed, every need's stored demand is what the links say."""
    rng = random.Random(seed)
    for _ in range(60):
        clock.advance(minutes=1)
        kind = rng.choices(["new", "duplicate", "erase", "acknowledge"], [5, 5, 1, 1])[0]
        if kind == "new":
            new_need(db, rng.choice(OPENIDS), clock.now)
        elif kind == "duplicate":
            mark_duplicate(db, rng, clock.now)
        elif kind == "erase":
            erase(db, rng, clock.now)
        else:
            acknowledge(db, rng, clock.now)
        db.commit()
        assert_stored_equals_counted(db)
    assert max(db.execute(select(Need.demand)).scalars()) > 1  # the sequence merged some


def test_erasure_makes_one_residents_two_me_toos_two(db: Session, clock: FakeClock) -> None:
    original = new_need(db, "o-a", clock.now)
    first = new_need(db, "o-b", clock.now)
    second = new_need(db, "o-b", clock.now)
    own = new_need(db, "o-a", clock.now)
    for need in (first, second, own):
        change_status(db, need, "duplicate", "王", "同", False, clock.now, duplicate_of=original)
    db.commit()
    assert original.demand == 2  # o-a's own "me too" and o-b's two count as o-a and o-b
    erase_resident_data(
        db, db.execute(select(Resident).filter_by(openid="o-b")).scalar_one(), clock.now
    )
    db.commit()
    assert original.demand == 3  # two erased needs, two residents of their own
    erase_resident_data(
        db, db.execute(select(Resident).filter_by(openid="o-a")).scalar_one(), clock.now
    )
    db.commit()
    assert original.demand == 4
    assert_stored_equals_counted(db)


def old_demand_order(db: Session, statuses: tuple[str, ...]) -> list[int]:
    """The queue's order by demand as it was computed before the count was stored."""
    others = other_residents().subquery()
    need_id, residents = others.c
    return list(
        db.execute(
            select(Need.id)
            .outerjoin(others, need_id == Need.id)
            .where(Need.erased_at.is_(None), Need.status.in_(statuses))
            .order_by(func.coalesce(residents, 0).desc(), Need.created_at, Need.id)
        ).scalars()
    )


def test_the_sort_by_demand_keeps_its_order(db: Session, clock: FakeClock) -> None:
    rng = random.Random(7)
    for _ in range(80):
        clock.advance(minutes=rng.choice([0, 1, 5]))
        if rng.random() < 0.6:
            new_need(db, rng.choice(OPENIDS), clock.now)
        else:
            mark_duplicate(db, rng, clock.now)
        db.commit()
    erase(db, rng, clock.now)
    db.commit()
    for status, statuses in (("open", OPEN_STATUSES), ("", tuple(NeedStatus))):
        wanted = QueueFilter(status=status, sort=QueueSort.DEMAND)
        page = queue_page(db, wanted, DEADLINES, clock.now, page_size=500)
        assert [row.need.id for row in page.rows] == old_demand_order(db, statuses)
        assert [row.demand_count for row in page.rows] == [row.need.demand for row in page.rows]
    by_demand = [row.demand_count for row in list_needs(db, by_demand=True, limit=500)]
    assert by_demand == sorted(by_demand, reverse=True) and by_demand[0] > 1


def test_recounting_every_need_after_links_written_by_sql(db: Session, clock: FakeClock) -> None:
    """The bench's seeders link needs by SQL, past the operations: one recount puts it right."""
    original = new_need(db, "o-a", clock.now)
    others = [new_need(db, openid, clock.now) for openid in ("o-b", "o-c", "o-c")]
    db.commit()
    db.execute(
        text("UPDATE need SET status = 'duplicate', duplicate_of_id = :id WHERE id <> :id"),
        {"id": original.id},
    )
    recount_every_demand(db)
    db.commit()
    assert original.demand == 3 and [need.demand for need in others] == [1, 1, 1]
    assert_stored_equals_counted(db)


def test_staff_marking_duplicates_of_one_need_at_once_lose_no_count(
    services: Services, clock: FakeClock
) -> None:
    """Each marking locks the original before counting, so the last to count sees every
    link the others committed (on PostgreSQL, 20 connections at the same moment)."""
    residents = 20 if services.engine.dialect.name == "postgresql" else 5
    with services.session_factory() as db, db.begin():
        original_id = new_need(db, "o-original", clock.now).id
        merged = [new_need(db, f"o-{index}", clock.now).id for index in range(residents)]
    engine = make_engine(services.config.database.url, pool_size=residents, max_overflow=0)
    sessions = make_session_factory(engine)

    def mark(index: int) -> None:
        with sessions() as db, db.begin():
            need, original = db.get_one(Need, merged[index]), db.get_one(Need, original_id)
            change_status(
                db, need, "duplicate", "王", "同", False, clock.now, duplicate_of=original
            )

    try:
        all_at_once(residents, mark)
    finally:
        engine.dispose()
    with services.session_factory() as db:
        assert db.get_one(Need, original_id).demand == residents + 1
