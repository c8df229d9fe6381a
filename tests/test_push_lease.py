"""A worker sends a row only while it holds the row's lease, and renews the lease of a
batch whose sends run long, so a second healthy worker never sends the row again."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

from bot.services import Services
from bot.wechat.fake_api.server import FakeWeChatServer
from models.push.claims import claim_due, renew_lease
from models.push.outcomes import mark_outcome, mark_sent
from scheduler.batches import BatchLease
from scheduler.ratelimit import SendRateLimit
from tests.conftest import FakeClock
from tests.pushes import outbox_row, queue_to_new_residents

LEASE = timedelta(seconds=30)
SEND = timedelta(seconds=5)


def _claim(services: Services, clock: FakeClock) -> list[int]:
    with services.session_factory() as db, db.begin():
        return [row.id for row in claim_due(db, clock.now, LEASE, 10)]


def test_a_long_batch_renews_its_lease_so_nobody_else_claims_it(
    services: Services, clock: FakeClock
) -> None:
    queue_to_new_residents(services, clock.now, "l", 2)
    ids = _claim(services, clock)
    held = BatchLease(services, ids, clock.now + LEASE, LEASE)
    clock.advance(seconds=11)  # a third of the lease has passed
    assert held.holds(ids[0], SEND)
    assert held.until == clock.now + LEASE
    assert outbox_row(services, ids[1]).lease_until == held.until
    clock.advance(seconds=25)  # past the first lease, inside the renewed one
    assert _claim(services, clock) == []
    assert held.holds(ids[1], SEND)


def test_a_lease_that_ran_out_and_was_taken_is_not_used(
    services: Services, clock: FakeClock
) -> None:
    queue_to_new_residents(services, clock.now, "l", 1)
    [row] = _claim(services, clock)
    first_lease = clock.now + LEASE
    held = BatchLease(services, [row], first_lease, LEASE)
    clock.advance(seconds=31)  # the worker stalled past its lease
    assert _claim(services, clock) == [row]  # another worker took the row
    assert not held.holds(row, SEND)
    with services.session_factory() as db, db.begin():
        assert renew_lease(db, [row], first_lease, clock.now + LEASE) == set()


def test_a_lapsed_lease_nobody_took_is_renewed(services: Services, clock: FakeClock) -> None:
    queue_to_new_residents(services, clock.now, "l", 1)
    [row] = _claim(services, clock)
    held = BatchLease(services, [row], clock.now + LEASE, LEASE)
    clock.advance(seconds=31)
    assert held.holds(row, SEND)
    assert held.until == clock.now + LEASE


def test_outcomes_are_recorded_only_under_the_workers_lease(
    services: Services, clock: FakeClock
) -> None:
    rows = queue_to_new_residents(services, clock.now, "l", 2)
    _claim(services, clock)
    first_lease = clock.now + LEASE
    clock.advance(seconds=31)
    _claim(services, clock)  # a second worker took both rows after the lease ran out
    with services.session_factory() as db, db.begin():
        mark_sent(db, {"custom": [rows[0]]}, clock.now, lease_until=first_lease)
        mark_outcome(db, rows[1], "failed", "late", lease_until=first_lease)
    assert {outbox_row(services, row).status for row in rows} == {"sending"}
    with services.session_factory() as db, db.begin():
        mark_sent(db, {"custom": rows}, clock.now, lease_until=clock.now + LEASE)
    assert {outbox_row(services, row).status for row in rows} == {"sent"}


def _successful_sends(fake: FakeWeChatServer) -> Counter[str]:
    return Counter(
        call["body"]["touser"]
        for call in fake.calls("message/custom/send")
        if isinstance(call["result"], dict) and call["result"].get("errcode") == 0
    )


def test_a_stalled_worker_does_not_send_what_another_took_over(
    make_worker, clock: FakeClock, fake_wechat
) -> None:
    """The first worker stalls on its first send past the lease; the second takes the
    batch over and sends it. The first, resuming, sends none of the rest again."""
    push = {"lease_s": 30, "batch_size": 3, "worker_threads": 1}
    first = make_worker(push=push, wechat={"http_timeout_s": 30.0})
    second = make_worker(first._services)
    services = first._services
    rows = queue_to_new_residents(services, clock.now, "l", 3)
    fake_wechat.add_fault("message/custom/send", delay_s=60, times=1)
    stalled = threading.Thread(target=first.process_batch)
    stalled.start()
    while not fake_wechat.calls("message/custom/send"):
        time.sleep(0.01)
    clock.advance(seconds=31)
    assert second.run_once() == 3
    fake_wechat.fake.clear_faults()  # the stalled send returns
    stalled.join(timeout=30)
    sends = _successful_sends(fake_wechat)
    assert sends["o-l1"] == sends["o-l2"] == 1
    assert {outbox_row(services, row).status for row in rows} == {"sent"}


def test_without_redis_a_slow_rate_sends_a_batch_longer_than_the_lease(
    make_worker, clock: FakeClock, fake_wechat: FakeWeChatServer
) -> None:
    """10 rows at 0.5 a second take 20 s, against a 12 s lease. Without Redis the worker
    paces itself; were it to wait for the whole batch before its first send, a rival
    worker would claim the lapsed batch meanwhile, and so on, and nothing would go."""
    worker = make_worker(
        redis={"url": "redis://127.0.0.1:1/0"},  # nothing listens there
        push={"rate_per_s": 0.5, "lease_s": 12, "batch_size": 10},
    )
    services = worker._services
    rows = queue_to_new_residents(services, clock.now, "l", 10)
    rival_claims: list[int] = []

    def wait(seconds: float) -> None:
        clock.advance(seconds=seconds)
        with services.session_factory() as db, db.begin():
            claimed = claim_due(db, clock.now, timedelta(seconds=12), 10)
            rival_claims.extend(row.id for row in claimed)

    worker._rate = SendRateLimit(services.redis, 0.5, sleep=wait)
    assert worker.process_batch() == 10
    assert rival_claims == []
    assert {outbox_row(services, row).status for row in rows} == {"sent"}
    assert len(fake_wechat.calls("message/custom/send")) == 10
