"""Never overbook: concurrent sign-ups and cancellations against one event.

On PostgreSQL (AIXIANG_TEST_DATABASE_URL set) 50 residents press "sign up" at the same
moment, each in its own connection and transaction; the event row lock must leave exactly
`capacity` confirmed and everyone else waitlisted, numbered in arrival order. SQLite
serialises writers anyway (BEGIN IMMEDIATE), so it runs the same test with fewer threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from bot.services import Services
from models import OutboxMessage, Resident
from models.db import make_engine, make_session_factory
from models.events.signups import cancel_signup, sign_up
from models.events.staff import create_event
from models.events.tables import SignupStatus
from models.residents import get_or_create_resident
from tests.conftest import FakeClock
from tests.helpers import signups

CAPACITY = 10
TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def threads(services: Services) -> int:
    return 50 if services.engine.dialect.name == "postgresql" else 20


@pytest.fixture
def pool(services: Services, threads: int) -> Iterator[sessionmaker[Session]]:
    """A connection per thread, so every sign-up really runs at the same time."""
    engine: Engine = make_engine(services.config.database.url, pool_size=threads, max_overflow=0)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def event_and_residents(
    services: Services, clock: FakeClock, threads: int
) -> tuple[int, list[int]]:
    with services.session_factory() as db, db.begin():
        event = create_event(
            db,
            title="抢手的活动",
            starts_at=clock.now + timedelta(days=3),
            capacity=CAPACITY,
            now=clock.now,
            publish=True,
        )
        residents = [
            get_or_create_resident(db, f"o-rush-{index:02d}", clock.now).id
            for index in range(threads)
        ]
        return event.id, residents


def all_at_once(count: int, work: Callable[[int], None]) -> None:
    """Run ``work(i)`` for every i in its own thread, released together by a barrier."""
    barrier = threading.Barrier(count)

    def start(index: int) -> None:
        barrier.wait()
        work(index)

    with ThreadPoolExecutor(max_workers=count) as executor:
        for future in [executor.submit(start, index) for index in range(count)]:
            future.result()


def summary(services: Services, event_id: int) -> tuple[int, int, int]:
    with services.session_factory() as db:
        row = db.execute(
            text("SELECT confirmed, waitlisted, cancelled FROM event_summary WHERE event_id = :id"),
            {"id": event_id},
        ).one()
        return int(row.confirmed), int(row.waitlisted), int(row.cancelled)


def rush(
    pool: sessionmaker[Session], clock: FakeClock, event_id: int, residents: list[int]
) -> None:
    def one(index: int) -> None:
        with pool() as db, db.begin():
            resident = db.get(Resident, residents[index])
            assert resident is not None
            sign_up(db, event_id, resident, 1, clock.now)

    all_at_once(len(residents), one)


def test_concurrent_sign_ups_never_overbook(
    services: Services,
    pool: sessionmaker[Session],
    clock: FakeClock,
    threads: int,
    event_and_residents: tuple[int, list[int]],
) -> None:
    event_id, residents = event_and_residents
    rush(pool, clock, event_id, residents)

    rows = signups(services, event_id)
    assert len(rows) == threads
    confirmed = [row for row in rows if row.status == SignupStatus.CONFIRMED]
    waiting = [row for row in rows if row.status == SignupStatus.WAITLISTED]
    assert len(confirmed) == CAPACITY
    assert len(waiting) == threads - CAPACITY
    # Arrival order (the id each insert got under the lock) is waitlist order.
    assert [row.waitlist_position for row in waiting] == list(range(1, threads - CAPACITY + 1))
    assert all(row.waitlist_position is None for row in confirmed)
    assert max(row.id for row in confirmed) < min(row.id for row in waiting)
    assert len({row.checkin_code for row in rows}) == threads
    assert summary(services, event_id) == (CAPACITY, threads - CAPACITY, 0)


def test_concurrent_cancellations_promote_in_order(
    services: Services,
    pool: sessionmaker[Session],
    clock: FakeClock,
    threads: int,
    event_and_residents: tuple[int, list[int]],
) -> None:
    event_id, residents = event_and_residents
    rush(pool, clock, event_id, residents)
    before = signups(services, event_id)
    leaving_confirmed = [row.resident_id for row in before if row.status == SignupStatus.CONFIRMED][
        :5
    ]
    waiting = [row for row in before if row.status == SignupStatus.WAITLISTED]
    # Behind the first five, so no cancelling resident can be promoted first.
    leaving_waitlist = [waiting[5].resident_id, waiting[7].resident_id, waiting[-1].resident_id]
    leaving = leaving_confirmed + leaving_waitlist

    def one(index: int) -> None:
        with pool() as db, db.begin():
            resident = db.get(Resident, leaving[index])
            assert resident is not None
            cancel_signup(db, event_id, resident, clock.now, TZ)

    all_at_once(len(leaving), one)

    after = {row.resident_id: row for row in signups(services, event_id)}
    assert all(after[resident].status == SignupStatus.CANCELLED for resident in leaving)
    confirmed = [row for row in after.values() if row.status == SignupStatus.CONFIRMED]
    assert len(confirmed) == CAPACITY
    stayed_waiting = [row for row in waiting if row.resident_id not in leaving_waitlist]
    promoted = {row.resident_id for row in stayed_waiting[:5]}
    assert {row.resident_id for row in confirmed} >= promoted
    still_waiting = sorted(
        (row for row in after.values() if row.status == SignupStatus.WAITLISTED),
        key=lambda row: row.waitlist_position or 0,
    )
    assert [row.resident_id for row in still_waiting] == [
        row.resident_id for row in stayed_waiting[5:]
    ]
    assert [row.waitlist_position for row in still_waiting] == list(
        range(1, len(still_waiting) + 1)
    )
    with services.session_factory() as db:
        pushes = db.execute(select(OutboxMessage)).scalars().all()
    assert sorted(push.resident_id or 0 for push in pushes) == sorted(promoted)
    assert {push.idempotency_key for push in pushes} == {
        f"promotion:{after[resident].id}" for resident in promoted
    }
    remaining = len(still_waiting)
    assert summary(services, event_id) == (CAPACITY, remaining, len(leaving))
