"""The `aixiang scheduler` process: a leader runs APScheduler, standbys wait to take over.

Only the holder of the Redis leader lock starts its APScheduler (APScheduler's own rule:
a job store is never shared by two running schedulers); it renews the lock and stops
its scheduler the moment renewal fails. A standby polls for the lock and so takes over
within a lease plus a poll of the leader's death.
"""

from __future__ import annotations

import logging
import threading

from apscheduler.schedulers.background import BackgroundScheduler

from scheduler.jobs import JOBS, JobContext, run_job
from scheduler.leader import RENEW_EVERY_S, STANDBY_POLL_S, LeaderLock

log = logging.getLogger(__name__)


def build_scheduler(ctx: JobContext) -> BackgroundScheduler:
    config = ctx.services.config
    scheduler = BackgroundScheduler(timezone=config.bot.tz)
    for job in JOBS:
        scheduler.add_job(
            run_job,
            trigger=job.trigger(config),
            args=(job, ctx),
            id=job.id,
            name=job.id,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=300,
        )
    return scheduler


def run_scheduler(ctx: JobContext, stop: threading.Event, lock: LeaderLock | None = None) -> None:
    """Lead or stand by until ``stop`` is set."""
    lock = lock or LeaderLock(ctx.services.redis)
    running: BackgroundScheduler | None = None
    log.info("scheduler %s started; waiting to lead", lock.identity)
    try:
        while not stop.is_set():
            if running is None:
                if lock.acquire():
                    running = build_scheduler(ctx)
                    running.start()
                    log.info("scheduler %s leads: %d jobs scheduled", lock.identity, len(JOBS))
                    continue
                stop.wait(STANDBY_POLL_S)
            elif lock.renew():
                stop.wait(RENEW_EVERY_S)
            else:
                log.warning("scheduler %s lost the lead; standing by", lock.identity)
                running.shutdown(wait=False)
                running = None
    finally:
        if running is not None:
            running.shutdown(wait=True)
            lock.release()
