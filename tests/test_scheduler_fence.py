"""A scheduler that lost its lead runs no job and commits nothing, even before it notices."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import func, select

from bot.services import Services
from bot.wechat.client import build_wechat_client
from models.partners import Partner
from scheduler.jobs import Job, JobContext, run_job
from scheduler.leader import LEADER_KEY, LeaderLock
from scheduler.process import LeadOrStandBy
from tests.test_scheduler_leader import Ticks


@pytest.fixture
def schedulers(services: Services) -> Iterator[Callable[[Ticks], LeadOrStandBy]]:
    made: list[LeadOrStandBy] = []

    def make(ticks: Ticks) -> LeadOrStandBy:
        ctx = JobContext(services, build_wechat_client(services.config, services.redis))
        made.append(LeadOrStandBy(ctx, LeaderLock(services.redis, monotonic=ticks)))
        return made[-1]

    yield make
    for scheduler in made:
        scheduler.close()


def _jobs_context(scheduler: LeadOrStandBy) -> JobContext:
    """The context the leader's APScheduler runs its jobs with."""
    assert scheduler.running is not None
    ctx = scheduler.running.get_jobs()[0].args[1]
    assert isinstance(ctx, JobContext) and ctx.fence is not None
    return ctx


def _partners(services: Services) -> list[str]:
    with services.session_factory() as db:
        return list(db.execute(select(Partner.name).order_by(Partner.id)).scalars())


def _writes(names: list[str], between: Callable[[int], None] = lambda done: None) -> Job:
    """A catch-up job writing one row per transaction, calling ``between`` after each."""

    def run(ctx: JobContext) -> str:
        for done, name in enumerate(names, start=1):
            with ctx.services.session_factory() as db, db.begin():
                db.add(Partner(name=name, kind="ngo"))
            between(done)
        return f"{len(names)} written"

    return Job("test-writes", run, lambda config: None)  # type: ignore[arg-type,return-value]


def test_a_leader_whose_lease_lapsed_starts_no_job(services: Services, schedulers) -> None:
    frozen, standby_ticks = Ticks(), Ticks()
    leader = schedulers(frozen)
    leader.step()
    stale = _jobs_context(leader)
    assert run_job(_writes(["before"]), stale)
    frozen.now += 31  # SIGSTOP for longer than the lease; its renewal has not run yet
    services.redis.delete(LEADER_KEY)  # the lease ran out in Redis
    assert not run_job(_writes(["stale"]), stale)  # refused before it starts
    standby = schedulers(standby_ticks)
    standby.step()
    assert standby.running is not None
    assert run_job(_writes(["new leader"]), _jobs_context(standby))
    assert _partners(services) == ["before", "new leader"]


def test_a_catch_up_in_progress_stops_when_another_leader_takes_over(
    services: Services, schedulers
) -> None:
    """The stale leader's own clock says its lease holds (frozen, or its renew thread
    stuck), so only the token in the database can stop it."""
    leader = schedulers(Ticks())
    leader.step()
    stale = _jobs_context(leader)
    standby = schedulers(Ticks())

    def take_over_after_two(done: int) -> None:
        if done == 2:
            services.redis.delete(LEADER_KEY)  # the lease ran out in Redis
            standby.step()
            assert standby.running is not None

    assert not run_job(_writes(["a1", "a2", "a3", "a4"], take_over_after_two), stale)
    assert not run_job(_writes(["a5"]), stale)  # later jobs refuse too
    assert _partners(services) == ["a1", "a2"]
    with services.session_factory() as db:
        assert db.execute(select(func.count()).select_from(Partner)).scalar() == 2
    leader.step()
    assert leader.running is None  # and it notices at its next renewal
