"""A broadcast's preview splits its audience by how it would reach each resident now:
customer-service message, template message, subscription notice, put off by a quota
pause, or held for the resident's next message. The split counts the allowance the
workers spent in Redis and their quota pauses; it is the worker's own choice on the same
residents, its set-based counts equal the rule judged one resident at a time, and the
CLI's dry run prints it (and --json gives it), for a mass send too."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.services import Services, broadcast_settings
from bot.wechat.errors import Refusal
from models.audit import Actor
from models.base import utcnow
from models.broadcasts.fanout import create_broadcast, fan_out
from models.broadcasts.messages import text_message
from models.broadcasts.preview import preview_reach
from models.push.channels import ChannelPause, LiveLimits, Means, window_key
from models.push.consents import record_consents
from models.push.outbox import OutboxMessage
from models.push.pauses import PAUSED_PREFIX
from models.push.reach import Route, channel_split, reach_counts
from models.push.vocabulary import Channel
from models.residents import Resident
from scheduler.limits import read_limits
from scheduler.pauses import Pauses, quota_resets_at
from scheduler.windows import ServiceWindow
from scheduler.worker import Worker
from tests.broadcasts import SUBSCRIBE_TEMPLATE, residents
from tests.cli import run
from tests.conftest import FakeClock
from tests.pushes import MakePushServices, add_resident

SUBSCRIBE = {"broadcast": {"template_id": SUBSCRIBE_TEMPLATE, "fields": {"thing1": "{text}"}}}
TEMPLATES = {"broadcast": {"template_id": "TPL-B", "fields": {"first": "{text}"}}}
SUBSCRIPTION_ACCOUNT = {
    "wechat": {"account_type": "subscription"},
    "push": {"subscribe_templates": SUBSCRIBE},
}


def spend_allowance(services: Services, openid: str) -> None:
    """The worker's five customer-service messages to ``openid`` since their last one."""
    with services.session_factory() as db:
        resident = db.execute(select(Resident).where(Resident.openid == openid)).scalar_one()
        opened_at, kind = resident.last_interaction_at, resident.last_interaction_kind
    used = ServiceWindow(services.redis).try_use_many([(openid, opened_at, kind)] * 5, utcnow())
    assert used == [True] * 5


def worker_routes(services: Services) -> dict[int, Route]:
    """What the worker did with each broadcast row, as a preview names it."""
    routes: dict[int, Route] = {}
    with services.session_factory() as db:
        for row in db.execute(select(OutboxMessage)).scalars():
            assert row.resident_id is not None
            if row.status == "held":
                routes[row.resident_id] = Route.HELD
            elif row.status == "failed" and (row.last_error or "").startswith(PAUSED_PREFIX):
                routes[row.resident_id] = Route.PAUSED
            else:
                assert row.status == "sent", row.last_error
                routes[row.resident_id] = Route(Channel(row.channel).value)
    return routes


@pytest.mark.parametrize(
    ("sections", "paused", "expected"),
    [
        (SUBSCRIPTION_ACCOUNT, None, {"custom": 1, "subscribe": 1, "held": 3}),
        ({"push": {"templates": TEMPLATES}}, None, {"custom": 1, "template": 4}),
        ({}, None, {"custom": 1, "held": 4}),
        # Template messages paused: whoever they would carry waits for the probe.
        ({"push": {"templates": TEMPLATES}}, Channel.TEMPLATE, {"custom": 1, "paused": 4}),
        # Customer-service messages paused: nobody gets one; the rest as ever.
        (SUBSCRIPTION_ACCOUNT, Channel.CUSTOM, {"subscribe": 1, "paused": 4}),
    ],
)
def test_the_split_is_what_the_worker_then_does(
    sections: dict[str, Any],
    paused: Channel | None,
    expected: dict[str, int],
    make_push_services: MakePushServices,
    make_worker: Callable[..., Worker],
    clock: FakeClock,
) -> None:
    # The allowance is counted against real time: the residents are placed around it.
    clock.set(utcnow())
    services = make_push_services(**sections)
    residents(services, clock.now)
    # The resident who wrote an hour ago has had all five messages of that window.
    spend_allowance(services, "o-wrote")
    if paused is not None:
        Pauses(services.redis).pause("broadcast", paused, Refusal.DAILY_QUOTA, "45009", clock.now)
    settings = broadcast_settings(services.config)
    live = read_limits(services.redis, clock.now, services.config.wechat.account_type)
    with services.session_factory() as db, db.begin():
        _, reach = preview_reach(db, "all", settings, clock.now, live)
        assert (reach.excluded_unsubscribed, reach.excluded_opted_out) == (1, 1)
        broadcast = create_broadcast(
            db,
            Actor.os_user("test"),
            texts=text_message("停水通知", None),
            audience="all",
            now=clock.now,
        )
        fan_out(db, broadcast, clock.now, settings)
    assert {route: count for route, count in reach.counts().items() if count} == expected
    if paused is not None:
        assert reach.paused is not None and reach.paused.until == clock.now + timedelta(minutes=20)
    make_worker(services).run_once()
    done = worker_routes(services)
    assert {route.value: list(done.values()).count(route) for route in set(done.values())} == (
        expected
    )


MEANS = [
    Means(template=False, subscription=False),
    Means(template=True, subscription=False),
    Means(template=False, subscription=True),
    Means(template=True, subscription=True),
]


def varied_population(services: Services, now: datetime, seed: int) -> LiveLimits:
    """Residents in every state a route depends on, at random: never wrote, wrote or
    tapped inside or outside the window, unfollowed, opted out, consenting or not, and
    some whose allowance is spent (one of them since replaced by a newer window)."""
    chooser = random.Random(seed)
    spent: set[tuple[str, int]] = set()
    ages = [None, timedelta(seconds=30), timedelta(minutes=2), timedelta(hours=5)]
    ages += [timedelta(hours=47, minutes=59), timedelta(hours=48, seconds=1), timedelta(days=9)]
    for number in range(120):
        openid = f"o-{seed}-{number}"
        age = chooser.choice(ages)
        kind = chooser.choice(["message", "tap"])
        seen = None if age is None else now - age
        resident_id = add_resident(
            services, openid, last_seen=seen, kind=kind, subscribed=chooser.random() > 0.1
        )
        with services.session_factory() as db, db.begin():
            resident = db.get_one(Resident, resident_id)
            resident.broadcast_opt_out = chooser.random() < 0.1
            if chooser.random() < 0.4:
                record_consents(db, resident_id, [SUBSCRIBE_TEMPLATE], now - timedelta(days=1))
            if chooser.random() < 0.3:
                record_consents(db, resident_id, ["OTHER"], now - timedelta(days=1))
            opened = resident.last_interaction_at
        if opened is not None and chooser.random() < 0.4:
            stale = chooser.random() < 0.2
            spent.add((openid, window_key(opened - timedelta(hours=1) if stale else opened)))
    return LiveLimits(frozenset(spent))


@pytest.mark.parametrize("seed", [1, 2])
def test_the_counts_equal_the_rule_for_each_resident(
    services: Services, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    # Spent windows are read a few openids a query: the chunks are made small to be many.
    monkeypatch.setattr("models.push.reach.CHUNK", 7)
    live = varied_population(services, clock.now, seed)
    pause = ChannelPause(clock.now + timedelta(minutes=5), clock.now + timedelta(hours=3))
    pause_sets: list[dict[Channel, ChannelPause]] = [
        {},
        {Channel.CUSTOM: pause},
        {Channel.TEMPLATE: pause},
        {Channel.SUBSCRIBE: pause},
    ]
    with services.session_factory() as db:
        eligible = list(
            db.execute(
                select(Resident.id).where(
                    Resident.subscribed.is_(True), Resident.broadcast_opt_out.is_(False)
                )
            ).scalars()
        )
        unfollowed = db.execute(select(Resident.id).where(Resident.subscribed.is_(False))).all()
        for base in MEANS:
            for paused in pause_sets:
                means = Means(base.template, base.subscription, paused)
                template = SUBSCRIBE_TEMPLATE if means.subscription else None
                counted = reach_counts(
                    db, None, clock.now, means=means, subscribe_template_id=template, live=live
                )
                judged = channel_split(
                    db, eligible, clock.now, means=means, subscribe_template_id=template, live=live
                )
                assert counted.counts() == judged.counts(), (means, paused)
                assert counted.excluded_unsubscribed == len(unfollowed)
                assert counted.reached == len(eligible)
    # The population is varied enough to reach every route the rules have.
    assert any(spent for spent in live.spent)


def test_an_audience_narrows_the_counts(services: Services, clock: FakeClock) -> None:
    live = varied_population(services, clock.now, 3)
    chosen = Resident.id.in_(select(Resident.id).where(Resident.id % 3 == 0))
    means = Means(template=False, subscription=True)
    with services.session_factory() as db:
        ids = list(
            db.execute(
                select(Resident.id).where(
                    Resident.id % 3 == 0,
                    Resident.subscribed.is_(True),
                    Resident.broadcast_opt_out.is_(False),
                )
            ).scalars()
        )
        counted = reach_counts(
            db, chosen, clock.now, means=means, subscribe_template_id=SUBSCRIBE_TEMPLATE, live=live
        )
        judged = channel_split(
            db, ids, clock.now, means=means, subscribe_template_id=SUBSCRIBE_TEMPLATE, live=live
        )
    assert counted.counts() == judged.counts() and counted.reached == len(ids)


def test_limits_are_read_in_one_round_trip(services: Services, clock: FakeClock) -> None:
    clock.set(utcnow())
    opened = clock.now - timedelta(hours=1)
    window = ServiceWindow(services.redis)
    window.try_use_many(
        [("o-a", opened, "message")] * 5 + [("o-b", opened, "message")] * 4, clock.now
    )
    window.exhaust("o-c", clock.now - timedelta(seconds=10), "tap", clock.now)
    Pauses(services.redis).pause("broadcast", "template", Refusal.DAILY_QUOTA, "45009", clock.now)
    live = read_limits(services.redis, clock.now, "service")
    assert live.spent == {
        ("o-a", window_key(opened)),
        ("o-c", window_key(clock.now - timedelta(seconds=10))),
    }
    assert not live.allowance_left("o-a", opened) and live.allowance_left("o-b", opened)
    # A newer message opens a fresh allowance.
    assert live.allowance_left("o-a", clock.now)
    pause = live.pauses[("broadcast", "template")]
    assert pause.until == clock.now + timedelta(minutes=20)
    assert pause.resets_at == quota_resets_at(Refusal.DAILY_QUOTA, clock.now, "service")
    # Once a window has shut it is no longer listed.
    later = read_limits(services.redis, clock.now + timedelta(days=2), "service")
    assert later.spent == frozenset()


@pytest.mark.parametrize(
    ("refusal", "account", "refused", "resets"),
    [
        # WeChat's day is China's: 23:30 UTC is already the next day there.
        (Refusal.DAILY_QUOTA, "service", "2026-06-01T15:59", "2026-06-01T16:00"),
        (Refusal.DAILY_QUOTA, "service", "2026-06-01T16:01", "2026-06-02T16:00"),
        (Refusal.MINUTE_QUOTA, "service", "2026-06-01T10:20:30", "2026-06-01T10:21"),
        (Refusal.MASS_QUOTA, "subscription", "2026-06-01T10:00", "2026-06-01T16:00"),
        (Refusal.MASS_QUOTA, "service", "2026-06-10T10:00", "2026-06-30T16:00"),
        (Refusal.MASS_QUOTA, "service", "2026-12-31T17:00", "2027-01-31T16:00"),
    ],
)
def test_a_quota_resets_on_wechats_clock(
    refusal: Refusal, account: str, refused: str, resets: str
) -> None:
    at = datetime.fromisoformat(refused).replace(tzinfo=UTC)
    assert quota_resets_at(refusal, at, account) == datetime.fromisoformat(resets).replace(
        tzinfo=UTC
    )


def test_the_dry_run_prints_the_same_split(staff: CliRunner, services: Services) -> None:
    # The command line runs on real time: the residents are placed around it.
    now_at = utcnow()
    residents(services, now_at)
    spend_allowance(services, "o-wrote")
    live = read_limits(services.redis, now_at, services.config.wechat.account_type)
    with services.session_factory() as db:
        _, reach = preview_reach(db, "all", broadcast_settings(services.config), now_at, live)
    shown = json.loads(
        run(staff, "broadcast", "--text", "停水", "--audience", "all", "--dry-run", "--json").stdout
    )
    assert shown["channels"] == reach.counts()
    assert shown["recipients"] == 5 and shown["excluded_unsubscribed"] == 1
    # The tap seconds ago is within its window; the message an hour ago has spent its own.
    assert shown["channels"]["custom"] == 1 and shown["channels"]["held"] == 4
    out = run(staff, "broadcast", "--text", "停水", "--audience", "all", "--dry-run").stdout
    counts = shown["channels"]
    assert f"by customer-service message: {counts['custom']}," in out
    assert "put off by a quota pause: 0" in out
    assert (
        f"held for their next message (never, if none comes before it expires): {counts['held']}"
        in out
    )


def test_the_mass_dry_run_prints_its_split(staff: CliRunner, services: Services) -> None:
    now_at = utcnow()
    residents(services, now_at)
    add_resident(services, "o-english", language="en", last_seen=now_at)
    Pauses(services.redis).pause("mass", "mass", Refusal.MASS_QUOTA, "45028", now_at)
    command = ["broadcast", "--text", "停水", "--audience", "all", "--mass", "--dry-run"]
    shown = json.loads(run(staff, *command, "--json").stdout)
    # Five read Chinese (one mass request); the one English reader gets a normal message.
    assert shown["channels"] == {
        "mass": 5,
        "custom": 1,
        "template": 0,
        "subscribe": 0,
        "paused": 0,
        "held": 0,
    }
    assert "mass_paused_until" in shown and "mass_quota_resets_at" in shown
    out = run(staff, *command)
    assert "by WeChat's mass send: 5" in out.stdout
    assert "mass sends paused until" in out.stdout
