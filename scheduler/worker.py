"""The outbox worker: claim due rows, plan each one's channels, send, record the outcome.

Several workers may run at once: rows are leased (PostgreSQL ``FOR UPDATE SKIP LOCKED``),
so two healthy workers never take the same row, and a worker killed mid-batch loses
nothing, because its leased rows fall due again when the lease runs out. A slow batch
renews its lease as it goes, and a row is sent and recorded only while its lease is
still this worker's (:class:`BatchLease`).

Sends run on a thread pool, and each thread hands its row's outcome to be committed the
moment the send ends (scheduler/recorder.py, which groups the commits of all threads).
So a worker killed mid-batch has at most two unrecorded sends per thread
(``push.worker_threads``): one in flight and one waiting for its commit. Only those are
sent again when its lease runs out, never the rows it had already sent. Outcomes decided
without a send (expired, stale, held) are written as the batch's sends start.

The next batch is claimed on a thread of its own while the current one is sent, so the
sending threads do not sit idle through the claim's round trip to the database. A batch
claimed ahead is only leased: it is planned (the stale checks, the quota pauses, the
customer-service allowance, a subscription consent) when its own sends start, so it sees
what the batch before it changed, and giving it back spends nothing. Its lease runs from
its claim, and is renewed before it is planned when a third of it has passed meanwhile;
rows another worker took after it lapsed are not planned nor sent. A worker that stops,
or whose batch failed, releases the batch it claimed ahead (due again at once, its
attempt refunded) rather than leaving it leased until the lease runs out; if the database
is out of reach the lease runs out by itself. ``run_once`` ends only when a claim made
after the last batch was recorded finds nothing, as before.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta
from typing import Any

import redis
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from bot.redis_conn import DEGRADED_LOG_INTERVAL_S
from bot.services import Services
from bot.wechat.api import WeChatAPI
from bot.wechat.client import AixiangWeChatClient
from models.push.claims import claim_due, release_lease
from models.push.outcomes import mark_outcome
from models.push.vocabulary import Channel, DeliveryOutcome, OutboxStatus
from models.residents import Resident, mark_unsubscribed
from scheduler.batches import Batch, BatchLease, Turns
from scheduler.delivery import Outcome, Plan, Sender, backoff
from scheduler.pauses import Pauses
from scheduler.planner import Planner
from scheduler.ratelimit import SendRateLimit
from scheduler.recorder import OutcomeRecorder
from scheduler.windows import ServiceWindow

log = logging.getLogger(__name__)


class OutageLog:
    """Says that a batch failed for want of the database or Redis at most once per
    interval, however often the worker retries meanwhile."""

    def __init__(self, interval_s: float = DEGRADED_LOG_INTERVAL_S) -> None:
        self._interval_s = interval_s
        self._last = float("-inf")

    def report(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last < self._interval_s:
            return
        self._last = now
        log.warning("a batch failed (%s: %s); retrying until it works", type(exc).__name__, exc)


class Worker:
    def __init__(self, services: Services, client: AixiangWeChatClient) -> None:
        self._services = services
        self._push = services.config.push
        self._window = ServiceWindow(services.redis)
        self._planner = Planner(services, self._window)
        self._sender = Sender(WeChatAPI(client), services.config)
        self._rate = SendRateLimit(services.redis, self._push.rate_per_s)
        self._pauses = Pauses(services.redis)
        self._pool = ThreadPoolExecutor(
            max_workers=self._push.worker_threads, thread_name_prefix="push"
        )
        self._claimer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="push-claim")
        self._recorder = OutcomeRecorder(
            services.engine, self._record_other, backlog=self._push.worker_threads
        )
        self._outage = OutageLog()
        self._timeout_s = services.config.wechat.http_timeout_s

    def close(self) -> None:
        self._claimer.shutdown(wait=True)
        self._pool.shutdown(wait=True)
        self._recorder.close()

    def run_once(self) -> int:
        """Deliver everything due now, then return how many rows were handled."""
        return self._deliver_until(None)

    def run_forever(self, stop: threading.Event, idle_s: float = 1.0) -> None:
        """Deliver until ``stop`` is set. A batch that fails because the database or Redis
        is out of reach is logged (once a minute at most) and tried again after ``idle_s``:
        its leased rows fall due again when the lease runs out, so nothing is lost, and the
        worker is still there when the service comes back."""
        while not stop.is_set():
            try:
                handled = self._deliver_until(stop)
            except (OperationalError, redis.RedisError) as exc:
                self._outage.report(exc)
                handled = 0
            if handled == 0:
                stop.wait(idle_s)

    def process_batch(self) -> int:
        """Claim one batch and deliver it, with nothing claimed ahead; returns its size."""
        batch = self._claim()
        self._deliver(batch)
        return batch.size

    def _deliver_until(self, stop: threading.Event | None) -> int:
        """Deliver batch after batch until a claim made after the last batch was recorded
        finds nothing (``--once``'s "everything due now", rows a batch put back due at once
        included) or ``stop`` is set; returns how many rows were handled.

        The next batch is claimed on the claiming thread while this one is sent, so the
        sending threads do not wait for the claim. A batch claimed ahead when ``stop`` is
        set, or when sending fails, is released at once (:meth:`_release`)."""
        handled = 0
        batch = self._claim()
        while batch.size:
            ahead = (
                None if stop is not None and stop.is_set() else self._claimer.submit(self._claim)
            )
            try:
                self._deliver(batch)
            except BaseException:
                self._release(ahead)
                raise
            handled += batch.size
            if ahead is None or (stop is not None and stop.is_set()):
                self._release(ahead)
                return handled
            batch = ahead.result()
            if not batch.size:
                batch = self._claim()
        return handled

    def _claim(self) -> Batch:
        """Lease the next batch. Nothing is decided here but what the claim filters out
        (kinds whose mass sends are paused), so a batch claimed ahead spends no allowance
        or consent and can be given back as it was (:meth:`_release`)."""
        now = self._services.clock()
        lease = timedelta(seconds=self._push.lease_s)
        mass_paused = self._pauses.gate(now).paused_kinds(Channel.MASS)
        with self._services.session_factory() as db, db.begin():
            claimed = claim_due(db, now, lease, self._push.batch_size, mass_paused)
        held = BatchLease(self._services, [row.id for row in claimed], now + lease, lease)
        return Batch(claimed, held)

    def _deliver(self, batch: Batch) -> None:
        """Plan the batch as things are now (pauses, staleness, allowances: the batch may
        have waited while the one before it was sent), record what is decided without a
        send, and send the rest."""
        now = self._services.clock()
        # A batch claimed ahead waited for the one before it: its lease is renewed here if
        # a third of it has passed, and rows another worker took meanwhile are not planned.
        rows = [row for row in batch.rows if batch.lease.holds(row.id, timedelta(0))]
        if not rows:
            return
        gate = self._pauses.gate(now)
        planned: list[Plan] = []
        with (
            self._services.session_factory() as db,
            db.begin(),
            batch.lease.recording() as until,
        ):
            for result in self._planner.plan_all(db, rows, now, gate):
                if isinstance(result, Plan):
                    planned.append(result)
                else:
                    self._record_other(db, result, now, until)
        self._send_all(planned, now, batch.lease)

    def _release(self, ahead: Future[Batch] | None) -> None:
        """Give back a batch claimed ahead that will not be sent: its rows fall due again at
        once, their attempt refunded, rather than when the lease runs out. Nothing of it
        was planned, so nothing else is spent. If the database cannot be reached, the lease
        runs out by itself."""
        if ahead is None:
            return
        try:
            batch = ahead.result()
            if batch.size:
                with self._services.session_factory() as db, db.begin():
                    release_lease(db, [row.id for row in batch.rows], batch.lease.until)
        except (OperationalError, redis.RedisError) as exc:
            # Either the claim ahead failed (nothing was leased) or the release did (the
            # lease runs out by itself): nothing is lost either way.
            log.warning("a batch claimed ahead was not given back (%s)", exc)

    def _send_all(self, planned: list[Plan], now: datetime, held: BatchLease) -> None:
        """Send the batch; return once every outcome is committed, or raise what stopped
        one being committed once no send of the batch is running any more."""
        remaining = planned
        try:
            while remaining:
                allowed = self._rate.take(len(remaining))
                if allowed == 0:
                    threading.Event().wait(1.0 / max(self._push.rate_per_s, 1.0))
                    continue
                chunk, remaining = remaining[:allowed], remaining[allowed:]
                turns = Turns(chunk)
                senders = [
                    self._pool.submit(self._send_in_turn, turns, now, held)
                    for _ in range(min(self._push.worker_threads, len(chunk)))
                ]
                wait(senders)
                for sender in senders:
                    sender.result()
        finally:
            self._recorder.flush()

    def _send_in_turn(self, turns: Turns, now: datetime, held: BatchLease) -> None:
        """Send the chunk's rows one after another, taking turns with the other sending
        threads, until none is left. A task per thread rather than per row: a thread goes
        on to its next row without a future or a wake-up for each. When one row's outcome
        cannot be recorded, no thread starts another send of the batch."""
        while (plan := turns.take()) is not None:
            try:
                self._send_and_record(plan, now, held)
            except BaseException:
                turns.drop()
                raise

    def _send_and_record(self, plan: Plan, now: datetime, held: BatchLease) -> None:
        """Send one row and hand its outcome over to be committed at once. Quota refusals
        pause their channel for the row's kind; a probe WeChat took lifts its pause."""
        outcome = self._send(plan, now, held)
        kind = plan.row.kind
        for hit in outcome.quota_hits:
            self._pauses.pause(kind, hit.channel, hit.refusal, hit.error, now)
        if outcome.result == DeliveryOutcome.SENT and outcome.channel in plan.probes:
            self._pauses.lift(kind, outcome.channel)
        if outcome.result != DeliveryOutcome.LEASE_LOST:
            self._recorder.record(outcome, now, held)

    def _send(self, plan: Plan, now: datetime, held: BatchLease) -> Outcome:
        """Send one row if this worker still holds its lease for as long as the send may
        take; otherwise leave it to whoever holds it now (or after the lease runs out)."""
        if not held.holds(plan.row.id, self._send_time(plan)):
            return Outcome(plan.row, DeliveryOutcome.LEASE_LOST, error="the lease ran out")
        try:
            return self._sender.send(plan, now)
        except Exception as exc:
            # A bug or an odd library error in this one send: the row is retried with
            # backoff like a transport failure, and the rest of the batch goes on.
            log.exception("sending outbox row %s failed unexpectedly", plan.row.id)
            return Outcome(plan.row, DeliveryOutcome.RETRY, error=f"{type(exc).__name__}: {exc}")

    def _send_time(self, plan: Plan) -> timedelta:
        """How long sending ``plan`` may take: a timeout per channel tried."""
        return timedelta(seconds=self._timeout_s * max(1, len(plan.channels)))

    def _record_other(
        self, db: Session, outcome: Outcome, now: datetime, lease_until: datetime
    ) -> None:
        row = outcome.row

        def mark(status: OutboxStatus, error: str | None = None, **details: Any) -> None:
            mark_outcome(db, row.id, status, error, lease_until=lease_until, **details)

        recorded = outcome.window_exhausted and self._window.exhaust(
            row.recipient_openid, row.last_interaction_at, row.last_interaction_kind, now
        )
        retried = outcome.result in (DeliveryOutcome.RETRY, DeliveryOutcome.REPLAN)
        if outcome.result == DeliveryOutcome.REPLAN and recorded:
            # The window is now known spent (in Redis, or in this worker's memory without
            # it), so the next plan, at once, picks the template, a subscription notice
            # or holds the push for the resident's reply: that cannot loop, so the attempt
            # is given back rather than counted towards a dead letter.
            mark(OutboxStatus.PENDING, outcome.error, next_attempt_at=now, refund_attempt=True)
        elif retried and row.attempts >= self._push.max_attempts:
            mark(OutboxStatus.DEAD, f"gave up after {row.attempts} attempts: {outcome.error}")
        elif outcome.result == DeliveryOutcome.RETRY:
            wait = backoff(row.attempts, self._push.backoff_base_s, self._push.backoff_max_s)
            mark(OutboxStatus.FAILED, outcome.error, next_attempt_at=now + wait)
        elif outcome.result == DeliveryOutcome.UNSUBSCRIBED:
            if row.resident_id is not None:
                resident = db.get(Resident, row.resident_id)
                if resident is not None:
                    mark_unsubscribed(resident, now)
            mark(OutboxStatus.DEAD, outcome.error)
        elif outcome.result == DeliveryOutcome.PAUSED:
            assert outcome.pause_until is not None
            mark(
                OutboxStatus.FAILED,
                outcome.error,
                next_attempt_at=outcome.pause_until,
                refund_attempt=True,
            )
        elif outcome.result == DeliveryOutcome.REPLAN:
            # Refused for a window nothing could record: tried again at once, but each try
            # counts, so max_attempts still bounds how often WeChat is asked.
            mark(OutboxStatus.PENDING, outcome.error, next_attempt_at=now)
        elif outcome.result in _FINAL_STATUSES:
            mark(_FINAL_STATUSES[outcome.result], outcome.error)
        else:
            mark(OutboxStatus.DEAD, outcome.error)


# Outcomes recorded as they are, with their reason.
_FINAL_STATUSES = {
    DeliveryOutcome.HELD: OutboxStatus.HELD,
    DeliveryOutcome.EXPIRED: OutboxStatus.EXPIRED,
    DeliveryOutcome.SKIPPED: OutboxStatus.SKIPPED,
}
