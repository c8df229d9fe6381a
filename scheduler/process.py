"""The `aixiang scheduler` process: a leader runs APScheduler, standbys wait to take over.

Only the holder of the Redis leader lock starts its APScheduler (APScheduler's own rule:
a job store is never shared by two running schedulers), after taking a fencing token
that its jobs check (scheduler/leader.py :class:`Fence`); it renews the lock and stops
its scheduler the moment renewal fails, or, cut off from Redis, when its lease ends. A
standby polls for the lock and so takes over within a lease plus a poll of the leader's
death.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from datetime import datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.exc import OperationalError

from scheduler.jobs import JOBS, JobContext, run_job
from scheduler.leader import RENEW_EVERY_S, STANDBY_POLL_S, Fence, LeaderLock

log = logging.getLogger(__name__)


def build_scheduler(ctx: JobContext) -> BackgroundScheduler:
    """APScheduler with every job; one whose time passed while nobody led (see
    ``Job.missed``) runs once at start, then by its trigger. APScheduler times its jobs by
    the wall clock, so the wall clock decides what was missed."""
    config = ctx.services.config
    scheduler = BackgroundScheduler(timezone=config.bot.tz)
    now = datetime.now(config.bot.tz)
    for job in JOBS:
        first: dict[str, Any] = {"next_run_time": now} if job.missed(config, now) else {}
        scheduler.add_job(
            run_job,
            trigger=job.trigger(config),
            args=(job, ctx),
            id=job.id,
            name=job.id,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=300,
            **first,
        )
    return scheduler


class LeadOrStandBy:
    """One scheduler process: standing by, or leading with its APScheduler running.

    Each :meth:`step` tries the lock once and says how long to wait before the next, so
    the loop around it is trivial and a test can drive it step by step. Redis being out
    of reach never raises here (the lock degrades), so an outage cannot end the process.
    """

    def __init__(self, ctx: JobContext, lock: LeaderLock) -> None:
        self._ctx = ctx
        self._lock = lock
        self.running: BackgroundScheduler | None = None

    def step(self) -> float:
        """Take, keep or give up the lead once; returns the seconds to wait."""
        if self.running is None:
            if not self._lock.acquire():
                return STANDBY_POLL_S
            fenced = self._fenced()
            if fenced is None:
                self._lock.release()
                return STANDBY_POLL_S
            self.running = build_scheduler(fenced)
            self.running.start()
            log.info("scheduler %s leads: %d jobs scheduled", self._lock.identity, len(JOBS))
            return self._until_renewal()
        if self._lock.renew():
            return self._until_renewal()
        log.warning("scheduler %s lost the lead; standing by", self._lock.identity)
        self.running.shutdown(wait=False)
        self.running = None
        return 0.0

    def _fenced(self) -> JobContext | None:
        """The jobs' context for this lead, under a new fencing token; None when the
        token cannot be taken (the database is out of reach), so nobody leads yet."""
        fence = Fence(self._lock, self._ctx.services)
        try:
            fence.take()
        except OperationalError as exc:
            log.warning("scheduler %s cannot take a fencing token (%s)", self._lock.identity, exc)
            return None
        services = replace(self._ctx.services, session_factory=fence.sessions)
        return JobContext(services, self._ctx.client, fence)

    def _until_renewal(self) -> float:
        """The wait before renewing: RENEW_EVERY_S, but never so long that a renewal which
        takes the lock's call timeout to fail would end past the lease we are sure of. Cut
        off from Redis, the leader then stands down by the time its lease ends, not a
        socket timeout (or up to RENEW_EVERY_S) after a standby may have taken over."""
        last_ask = self._lock.lease_left_s() - self._lock.call_timeout_s
        return max(min(RENEW_EVERY_S, last_ask), 0.0)

    def close(self) -> None:
        """Stop leading: let running jobs finish, then hand the lead over."""
        if self.running is not None:
            self.running.shutdown(wait=True)
            self.running = None
            self._lock.release()


def run_scheduler(ctx: JobContext, stop: threading.Event, lock: LeaderLock | None = None) -> None:
    """Lead or stand by until ``stop`` is set."""
    lock = lock or LeaderLock(ctx.services.redis)
    process = LeadOrStandBy(ctx, lock)
    log.info("scheduler %s started; waiting to lead", lock.identity)
    try:
        while not stop.is_set():
            stop.wait(process.step())
    finally:
        process.close()
