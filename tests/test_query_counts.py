"""How many SQL statements the hot paths run, pinned (STYLE 11, indico's count_queries).

The numbers are what the code does today: a change that adds a round trip to every
message or every push fails here and has to say why. They differ by database. On
PostgreSQL the webhook's look-up and store are one autocommitted statement each, on
psycopg's own cursor (models/driver_sql.py). On SQLite each transaction starts with a
``BEGIN IMMEDIATE`` of its own (counted: it goes through SQLAlchemy), the look-up is a
transaction of its own, and the store is a touch of the resident plus an insert.
Every path is measured for a resident who has written before, as nearly all are. The
guard is in tests/guards.py (``count_queries``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from bot.services import Services
from models.events.staff import create_event
from scheduler.worker import Worker
from tests.chat import Chat
from tests.conftest import FakeClock
from tests.guards import CountQueries, CountRedis
from tests.pushes import add_resident, queue


def on(services: Services, *, sqlite: int, postgresql: int) -> int:
    """The pinned count for the database this run is on."""
    return postgresql if services.engine.dialect.name == "postgresql" else sqlite


@pytest.fixture
def known(chat: Chat) -> Chat:
    """A resident who has written before (first contact adds the enrolment upsert)."""
    chat.say("你好")
    return chat


@pytest.fixture
def event_id(services: Services, clock: FakeClock) -> int:
    with services.session_factory() as db, db.begin():
        return create_event(
            db,
            title="社区花园共建",
            starts_at=clock.now + timedelta(days=2),
            capacity=10,
            now=clock.now,
            publish=True,
        ).id


def test_help_through_the_webhook(
    known: Chat, services: Services, count_queries: CountQueries
) -> None:
    with count_queries() as statements:
        assert "我的需求" in known.say("帮助")
    # The look-up (resident, held pushes, stored copy) and the store (touch the resident,
    # insert the message with its reply); help itself reads nothing.
    assert len(statements) == on(services, sqlite=5, postgresql=2), statements


def test_words_not_understood_through_the_webhook(
    known: Chat, services: Services, count_queries: CountQueries
) -> None:
    with count_queries() as statements:
        assert "今天天气" in known.say("今天天气")
    # The look-up, which also tells whether the resident has a conversation open with
    # staff (where such words would go), and the store: the fallback reads nothing.
    assert len(statements) == on(services, sqlite=5, postgresql=2), statements


def test_redis_round_trips_through_the_webhook(known: Chat, count_redis: CountRedis) -> None:
    with count_redis() as commands:
        assert "今天天气" in known.say("今天天气")
        assert "我的需求" in known.say("帮助")
    # Each message: its first look (nonce, cached reply, claim and the sender's flow),
    # then its reply cached. The first, a second miss in a row, cleared the "not
    # understood" marker, set it again and cleared it for the offer: held back until the
    # store, that is one write, in the script that caches the reply. Help touched no flow.
    assert commands == ["EVALSHA", "EVALSHA", "EVALSHA", "SET"], commands


def test_event_list_through_the_webhook(
    known: Chat, services: Services, event_id: int, count_queries: CountQueries
) -> None:
    with count_queries() as statements:
        assert "社区花园共建" in known.say("活动")
    # Look-up and store, plus the page of upcoming events and one aggregate of their
    # confirmed, waitlisted and walk-in places (the store joins the handler's
    # transaction, so SQLite has no third BEGIN).
    assert len(statements) == on(services, sqlite=7, postgresql=4), statements


def test_sign_up_through_the_webhook(
    known: Chat, services: Services, event_id: int, count_queries: CountQueries
) -> None:
    with count_queries() as statements:
        assert "报名成功" in known.say(f"报名 {event_id}")
    # Look-up and store, plus: the event (to answer "no such event" early), the
    # resident's row, the event again under its row lock, the resident's sign-up and
    # attendance there, the places taken, a check that the new check-in code is unused,
    # and the insert of the sign-up; and, for a resident not yet asked their village,
    # whether there is any village to ask about (none here).
    assert len(statements) == on(services, sqlite=14, postgresql=11), statements


def test_one_push_delivered_by_the_outbox_worker(
    make_worker: Callable[..., Worker], clock: FakeClock, count_queries: CountQueries
) -> None:
    worker = make_worker()
    services = worker._services
    add_resident(services, "o-a", last_seen=clock.now - timedelta(hours=1))
    queue(services, "o-a", "k0")
    # The first batch opens the recorder's connection (on PostgreSQL, turning off
    # synchronous commits for it), once in the worker's life.
    assert worker.process_batch() == 1
    queue(services, "o-a", "k1")
    with count_queries() as statements:
        assert worker.process_batch() == 1
    # The claim (PostgreSQL: one UPDATE ... RETURNING; SQLite: BEGIN, select the due ids,
    # lease them, read the leased rows) and the outcome's update (SQLite: with its
    # BEGIN). run_once adds one more claim, which finds nothing and ends it.
    assert len(statements) == on(services, sqlite=6, postgresql=2), statements
