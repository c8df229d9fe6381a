"""A worker claims its next batch while the current one is sent. The batch claimed ahead
is planned only when its turn comes, is given back when the worker stops, and is never
sent by a worker whose lease on it ran out."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from bot.services import Services
from bot.wechat.fake_api.server import FakeWeChatServer
from models.push.vocabulary import OutboxStatus
from scheduler.worker import Worker
from tests.conftest import FakeClock
from tests.pushes import outbox_row, queue_to_new_residents, sent_to

CUSTOM = "message/custom/send"


def _wait_until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _statuses(services: Services, rows: list[int]) -> list[str]:
    return [outbox_row(services, row).status for row in rows]


def _sends(fake: FakeWeChatServer) -> Counter[str]:
    return Counter(call["body"]["touser"] for call in sent_to(fake, CUSTOM))


def test_a_stopping_worker_gives_back_the_batch_it_claimed_ahead(
    make_worker: Callable[..., Worker], clock: FakeClock, fake_wechat: FakeWeChatServer
) -> None:
    worker = make_worker(
        push={"batch_size": 2, "worker_threads": 1}, wechat={"http_timeout_s": 5.0}
    )
    services = worker._services
    rows = queue_to_new_residents(services, clock.now, "a", 4)
    fake_wechat.add_fault(CUSTOM, delay_s=1.5, times=1)  # stop comes while it is sent
    stop = threading.Event()
    running = threading.Thread(target=worker.run_forever, args=(stop,))
    running.start()
    # The first batch is being sent and the second is claimed: all four rows are leased.
    _wait_until(lambda: _statuses(services, rows) == [OutboxStatus.SENDING] * 4)
    stop.set()
    running.join(timeout=10)
    assert not running.is_alive()
    assert _statuses(services, rows) == ["sent", "sent", "pending", "pending"]
    for row in rows[2:]:
        given_back = outbox_row(services, row)
        assert given_back.lease_until is None
        assert given_back.attempts == 0  # the claim's attempt is refunded
    assert sorted(_sends(fake_wechat)) == ["o-a0", "o-a1"]
    # Due at once, not when the lease would have run out.
    assert worker.run_once() == 2
    assert _statuses(services, rows) == ["sent"] * 4
    assert set(_sends(fake_wechat).values()) == {1}


def test_a_worker_whose_records_fail_gives_back_the_batch_it_claimed_ahead(
    make_worker: Callable[..., Worker], clock: FakeClock, fake_wechat: FakeWeChatServer
) -> None:
    worker = make_worker(push={"batch_size": 2, "worker_threads": 1})
    services = worker._services
    rows = queue_to_new_residents(services, clock.now, "a", 4)

    def database_gone() -> Any:
        raise OperationalError("UPDATE outbox", {}, ConnectionError("connection refused"))

    worker._recorder._connect = database_gone  # type: ignore[method-assign]
    with pytest.raises(OperationalError):
        worker.run_once()
    assert _statuses(services, rows[2:]) == ["pending", "pending"]
    assert [outbox_row(services, row).attempts for row in rows[2:]] == [0, 0]
    assert not {"o-a2", "o-a3"} & set(_sends(fake_wechat))


def test_a_pause_met_while_sending_holds_back_the_batch_claimed_ahead(
    make_worker: Callable[..., Worker], clock: FakeClock, fake_wechat: FakeWeChatServer
) -> None:
    """The second batch was claimed before the first met the spent quota, but is planned
    after it: its row waits for the pause's probe instead of being refused again."""
    worker = make_worker(push={"batch_size": 1, "worker_threads": 1})
    services = worker._services
    first, second = queue_to_new_residents(services, clock.now, "a", 2)
    fake_wechat.add_fault(CUSTOM, errcode=45009, delay_s=0.3, times=1)
    assert worker.run_once() == 2
    assert len(fake_wechat.calls(CUSTOM)) == 1
    for row in (first, second):
        waiting = outbox_row(services, row)
        assert waiting.status == "failed"
        assert waiting.last_error is not None and "paused" in waiting.last_error


def test_two_workers_claiming_ahead_send_each_row_once(
    make_worker: Callable[..., Worker], clock: FakeClock, fake_wechat: FakeWeChatServer
) -> None:
    push = {"batch_size": 3, "worker_threads": 2}
    first = make_worker(push=push)
    second = make_worker(push=push)
    rows = queue_to_new_residents(first._services, clock.now, "a", 40)
    handled: list[int] = []
    threads = [
        threading.Thread(target=lambda worker=worker: handled.append(worker.run_once()))
        for worker in (first, second)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sum(handled) == 40
    assert _statuses(first._services, rows) == ["sent"] * 40
    sends = _sends(fake_wechat)
    assert len(sends) == 40 and set(sends.values()) == {1}


def test_a_batch_claimed_ahead_whose_lease_was_taken_is_not_sent(
    make_worker: Callable[..., Worker], clock: FakeClock, fake_wechat: FakeWeChatServer
) -> None:
    """The first worker stalls on its first batch past the lease; a second worker takes
    over both that batch and the one the first had claimed ahead. The first, resuming,
    does not send the batch it claimed ahead."""
    push = {"lease_s": 30, "batch_size": 1, "worker_threads": 1}
    first = make_worker(push=push, wechat={"http_timeout_s": 30.0})
    second = make_worker(first._services)
    services = first._services
    rows = queue_to_new_residents(services, clock.now, "a", 2)
    fake_wechat.add_fault(CUSTOM, delay_s=60, times=1)
    stalled = threading.Thread(target=first.run_once)
    stalled.start()
    # The first row's send has started, and the second row is claimed ahead.
    _wait_until(lambda: bool(fake_wechat.calls(CUSTOM)))
    _wait_until(lambda: _statuses(services, rows) == [OutboxStatus.SENDING] * 2)
    clock.advance(seconds=31)
    assert second.run_once() == 2
    fake_wechat.fake.clear_faults()  # the stalled send returns
    stalled.join(timeout=30)
    assert not stalled.is_alive()
    assert _sends(fake_wechat)["o-a1"] == 1
    assert _statuses(services, rows) == ["sent", "sent"]
