"""A scheduler that takes the lead after the digest's time (a standby taking over, a
restart) catches up today's digest, and the catch-up never queues a digest twice."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import select

from bot.config.loader import load_config
from bot.config.sections import Config
from bot.wechat.client import build_wechat_client
from models import OutboxMessage
from scheduler.jobs import JOBS, Job, JobContext, run_job
from scheduler.process import build_scheduler
from tests.conftest import FakeClock
from tests.pushes import MakePushServices

# The fake clock starts at 2026-05-01 02:00 UTC, 10:00 in Shanghai.
STAFF = ["o-staff-1", "o-staff-2"]


def digest_job() -> Job:
    return next(job for job in JOBS if job.id == "staff-digest")


def config(digest_time: str) -> Config:
    return load_config(
        environ={}, read_file=False, overrides={"push": {"digest_time": digest_time}}
    )


def test_the_digest_is_missed_from_its_time_until_local_midnight() -> None:
    missed = digest_job().missed
    at_eight = config("08:00")
    assert not missed(at_eight, datetime(2026, 5, 1, 23, 59, tzinfo=UTC))  # 07:59 local
    assert missed(at_eight, datetime(2026, 5, 2, 0, 0, tzinfo=UTC))  # 08:00
    assert missed(at_eight, datetime(2026, 5, 2, 0, 2, tzinfo=UTC))  # 08:02
    assert missed(at_eight, datetime(2026, 5, 2, 15, 59, tzinfo=UTC))  # 23:59
    assert not missed(at_eight, datetime(2026, 5, 2, 16, 0, tzinfo=UTC))  # 00:00 next day


def test_a_new_leader_past_the_digest_time_runs_the_digest_at_once() -> None:
    """Midnight is past in every local day, so the digest is always missed here."""
    made = config("00:00")
    ctx = cast(JobContext, SimpleNamespace(services=SimpleNamespace(config=made), client=None))
    scheduler = build_scheduler(ctx)
    scheduler.start(paused=True)
    try:
        jobs: dict[str, Any] = {job.id: job.next_run_time for job in scheduler.get_jobs()}
    finally:
        scheduler.shutdown(wait=False)
    now = datetime.now(made.bot.tz)
    assert jobs["staff-digest"] <= now
    assert jobs["staff-digest"].date() == now.date()
    # The weekly report is missed only in the day after its time (tests/test_weekly_report.py).
    weekly = next(job for job in JOBS if job.id == "weekly-report")
    at_once = {"staff-digest"} | ({"weekly-report"} if weekly.missed(made, now) else set())
    assert all(jobs[job_id] > now for job_id in jobs if job_id not in at_once)


def test_catching_up_after_the_old_leader_queued_it_queues_nothing_more(
    make_push_services: MakePushServices, clock: FakeClock
) -> None:
    services = make_push_services(push={"digest_time": "09:58", "digest_openids": STAFF})
    ctx = JobContext(services, build_wechat_client(services.config, services.redis))
    job = digest_job()
    assert run_job(job, ctx)  # the old leader, at the digest's time
    clock.advance(minutes=2)
    assert job.missed(services.config, clock())
    assert run_job(job, ctx)  # the new leader catches up
    with services.session_factory() as db:
        keys = db.execute(
            select(OutboxMessage.idempotency_key).order_by(OutboxMessage.id)
        ).scalars()
        assert list(keys) == ["digest:2026-05-01:o-staff-1", "digest:2026-05-01:o-staff-2"]
