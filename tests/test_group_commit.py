"""Concurrent deliveries share one transaction and one commit, and each thread gets its
outcome only once the commit holding its row has returned."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from sqlalchemy import Connection, select

from bot.batches import Batches
from bot.services import Services
from models import InboundMessage
from models.inbound import Handled, enrol, store, store_together
from models.residents import Resident
from tests.test_inbound_store import NOW, delivery

WAITING = 3


def residents(services: Services, count: int) -> list[int]:
    with services.engine.connect() as connection:
        return [
            enrol(connection, delivery(f"o-group-{n}", f"enrol-{n}")).resident_id
            for n in range(count)
        ]


def test_stores_that_queue_behind_a_commit_share_the_next_one(services: Services) -> None:
    """The first store commits alone at once; the three that queue while it is in flight
    are stored by one transaction; nobody returns before the commit holding their row."""
    ids = residents(services, WAITING + 1)
    batches: list[list[str]] = []
    first_in_flight, others_queued = threading.Event(), threading.Event()
    committed: set[str] = set()

    def observed(db: Connection, handled: Sequence[Handled]) -> list[bool]:
        keys = [new.dedupe_key for new, _, _ in handled]
        batches.append(keys)
        if len(batches) == 1:
            first_in_flight.set()
            assert others_queued.wait(10)
        outcomes = store_together(db, handled)
        committed.update(keys)
        return outcomes

    committer = Batches(observed, 64)

    def store(n: int) -> tuple[bool, bool]:
        key = f"k-group-{n}"
        with services.engine.connect() as connection:
            stored = committer.submit(connection, (delivery(f"o-group-{n}", key), ids[n], "帮助"))
        return stored, key in committed

    with ThreadPoolExecutor(WAITING + 1) as pool:
        first = pool.submit(store, 0)
        assert first_in_flight.wait(10)
        rest = [pool.submit(store, n) for n in range(1, WAITING + 1)]
        while committer.queued < WAITING:
            threading.Event().wait(0.01)
        others_queued.set()
        outcomes = [first.result(10)] + [f.result(10) for f in rest]

    assert outcomes == [(True, True)] * (WAITING + 1)
    assert batches[0] == ["k-group-0"]
    assert sorted(batches[1]) == [f"k-group-{n}" for n in range(1, WAITING + 1)]
    assert len(batches) == 2
    with services.session_factory() as db:
        stored = db.scalars(select(InboundMessage.dedupe_key)).all()
    assert sorted(stored) == sorted(f"k-group-{n}" for n in range(WAITING + 1))


def test_a_batch_stores_a_second_copy_once_and_answers_in_the_callers_order(
    services: Services,
) -> None:
    first, second = residents(services, 2)
    handled = [
        (delivery("o-group-1", "k-b"), second, "b"),
        (delivery("o-group-0", "k-a"), first, "a"),
        (delivery("o-group-1", "k-b"), second, "b"),
    ]
    with services.engine.connect() as connection:
        assert store_together(connection, handled) == [True, True, False]
    with services.session_factory() as db:
        assert sorted(db.scalars(select(InboundMessage.dedupe_key))) == ["k-a", "k-b"]


def test_a_batch_that_fails_fails_every_store_in_it(services: Services) -> None:
    def failing(db: Connection, handled: Sequence[Handled]) -> list[bool]:
        raise RuntimeError("commit failed")

    (resident_id,) = residents(services, 1)
    with services.engine.connect() as connection, pytest.raises(RuntimeError):
        Batches(failing, 64).submit(connection, (delivery("o-group-0", "k-fail"), resident_id, ""))


def test_many_threads_each_get_their_own_outcome_after_their_batch() -> None:
    """Under contention, with batches smaller than the queue: every item is done once, in
    a batch no larger than the bound, and its thread returns its own outcome only after
    that batch is done (the lead handed on from batch to batch, no thread left waiting)."""
    done: set[int] = set()
    sizes: list[int] = []

    def run(via: None, items: Sequence[int]) -> list[int]:
        sizes.append(len(items))
        time.sleep(0.0002)  # a round trip, for others to queue behind
        done.update(items)
        return [item * 10 for item in items]

    batches: Batches[None, int, int] = Batches(run, 3)

    def submit(item: int) -> int:
        outcome = batches.submit(None, item)
        assert item in done
        return outcome

    with ThreadPoolExecutor(max_workers=32) as pool:
        outcomes = list(pool.map(submit, range(2000)))
    assert outcomes == [item * 10 for item in range(2000)]
    assert sum(sizes) == 2000 and max(sizes) == 3
    assert batches.queued == 0


def test_a_batch_records_its_senders_interactions_as_lone_stores_do(services: Services) -> None:
    """One sender's message and tap in one batch keep the message's window; a tap after a
    recent message keeps that message's; unfollowing moves nothing."""
    both, tapped, gone = residents(services, 3)
    earlier, now = NOW.replace(hour=11), NOW.replace(hour=12)
    with services.engine.connect() as connection:
        store(connection, delivery("o-group-1", "k-earlier", at=earlier), tapped, "")
        handled = [
            (delivery("o-group-0", "k-tap", at=now, interaction="tap"), both, ""),
            (delivery("o-group-0", "k-message", at=earlier), both, ""),
            (delivery("o-group-1", "k-tap-2", at=now, interaction="tap"), tapped, ""),
            (delivery("o-group-2", "k-gone", at=now, interaction=None), gone, ""),
        ]
        assert store_together(connection, handled) == [True] * 4
        last = {
            resident_id: (when, kind)
            for resident_id, when, kind in connection.execute(
                select(Resident.id, Resident.last_interaction_at, Resident.last_interaction_kind)
            )
        }
    assert last[both] == (earlier, "message")
    assert last[tapped] == (earlier, "message")
    assert last[gone] == (NOW, "message")


def test_a_batch_stores_every_value_as_it_came(services: Services) -> None:
    """The batch travels as one JSON parameter: quotes, backslashes, line breaks, emoji,
    an event's fields, a 64-bit MsgId and a timestamp's microseconds come back unchanged."""
    first, second = residents(services, 2)
    at = NOW.replace(microsecond=123456)
    words = '他说："路灯\\坏了"\n第二行 🙂 {"json": [1]}'
    reply = '回复 \' \\ "ok"'
    typed = replace(delivery("o-group-0", "k-words", content=words, at=at), msg_id=2**62 + 7)
    tapped = replace(
        delivery("o-group-1", "k-event", content=None, at=at, interaction="tap"),
        msg_type="event",
        event="CLICK",
        event_key="MENU_EVENTS",
    )
    with services.engine.connect() as connection:
        assert store_together(connection, [(typed, first, reply), (tapped, second, "")]) == [
            True,
            True,
        ]
        stored = {
            row[0]: tuple(row[1:])
            for row in connection.execute(
                select(
                    InboundMessage.dedupe_key,
                    InboundMessage.resident_id,
                    InboundMessage.msg_id,
                    InboundMessage.msg_type,
                    InboundMessage.event,
                    InboundMessage.event_key,
                    InboundMessage.content,
                    InboundMessage.reply,
                    InboundMessage.received_at,
                )
            )
        }
    assert stored == {
        "k-words": (first, 2**62 + 7, "text", None, None, words, reply, at),
        "k-event": (second, None, "event", "CLICK", "MENU_EVENTS", None, "", at),
    }


def test_concurrent_batches_over_the_same_senders_never_deadlock(services: Services) -> None:
    """Six workers' batches, each over four of ten senders in any order, with copies of
    the same deliveries in other batches: every batch stores, each delivery once (a batch
    that waits for another's copy has already locked that copy's sender, in id order)."""
    ids = residents(services, 10)
    shuffled = random.Random(14)
    plans = [
        [
            [
                (delivery(f"o-group-{i}", f"k-{n}-{i}"), ids[i], "")
                for i in shuffled.sample(range(10), 4)
            ]
            for n in range(15)
        ]
        for _ in range(6)
    ]
    start = threading.Barrier(len(plans))

    def store_all(batches: list[list[Handled]]) -> list[tuple[str, bool]]:
        outcomes = []
        with services.engine.connect() as connection:
            start.wait(10)
            for handled in batches:
                stored = store_together(connection, handled)
                outcomes += [
                    (new.dedupe_key, ok) for (new, _, _), ok in zip(handled, stored, strict=True)
                ]
        return outcomes

    with ThreadPoolExecutor(len(plans)) as pool:
        outcomes = [item for done in pool.map(store_all, plans) for item in done]
    keys = {key for key, _ in outcomes}
    assert sorted(key for key, ok in outcomes if ok) == sorted(keys)
    with services.session_factory() as db:
        assert sorted(db.scalars(select(InboundMessage.dedupe_key))) == sorted(keys)
