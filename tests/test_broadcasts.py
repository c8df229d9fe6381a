"""Staff broadcasts: audiences, fan-out, scheduling, mass sends and WeChat's quotas.

Domain tests run on the fake clock (2026-05-01 10:00 in Shanghai); the CLI tests use the
real clock, like every staff command.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, insert, select, update

from bot.cli.main import main
from bot.services import Services
from bot.wechat.fake_api.server import FakeWeChatServer
from models import Broadcast, BroadcastRecipient, OutboxMessage
from models.audit import Actor
from models.base import utcnow
from models.broadcasts import fanout
from models.broadcasts.audience import (
    Audience,
    AudienceCount,
    Recipient,
    count_audience,
    resolve_audience,
)
from models.broadcasts.fanout import create_broadcast, fan_out, send_due_broadcasts
from models.broadcasts.mass import MASS_OPENIDS_MAX, plan_mass
from models.broadcasts.messages import event_announcement, text_message
from models.broadcasts.records import BroadcastError, BroadcastSettings
from models.events.signups import cancel_signup, sign_up
from models.events.staff import create_event
from models.events.tables import Attendance, Event
from models.needs.submission import create_need
from models.push.rows import enqueue_push
from models.residents import Resident, get_or_create_resident
from tests.cli import fail, run
from tests.conftest import FakeClock
from tests.helpers import SHANGHAI, pushes
from tests.pushes import add_resident, sent_to
from tests.tags import given_tags

SERVICE = BroadcastSettings(tz=SHANGHAI)
SUBSCRIPTION = BroadcastSettings(tz=SHANGHAI, account_type="subscription")
CATEGORIES = ("education", "infrastructure", "other")


def resident(
    services: Services,
    openid: str,
    *,
    language: str | None = None,
    subscribed: bool = True,
    opted_out: bool = False,
    last_seen: datetime | None = None,
) -> int:
    resident_id = add_resident(
        services, openid, language=language, subscribed=subscribed, last_seen=last_seen
    )
    if opted_out:
        with services.session_factory() as db, db.begin():
            db.execute(
                update(Resident).where(Resident.id == resident_id).values(broadcast_opt_out=True)
            )
    return resident_id


def event(
    services: Services, title: str = "女性技能课堂", *tags: str, days: float = 5, party: int = 1
) -> int:
    now = services.clock()
    with services.session_factory() as db, db.begin():
        given_tags(db, tags, now)
        made = create_event(
            db,
            title=title,
            starts_at=now + timedelta(days=days),
            capacity=2,
            place="社区活动中心",
            tags=tags,
            max_party_size=party,
            publish=True,
            now=now,
        )
        return made.id


def signs_up(services: Services, event_id: int, *openids: str) -> None:
    with services.session_factory() as db, db.begin():
        for openid in openids:
            found = db.execute(select(Resident).where(Resident.openid == openid)).scalar_one()
            sign_up(db, event_id, found, 1, services.clock())


def attends(services: Services, event_id: int, *openids: str) -> None:
    with services.session_factory() as db, db.begin():
        for openid in openids:
            found = db.execute(select(Resident).where(Resident.openid == openid)).scalar_one()
            db.add(
                Attendance(
                    event_id=event_id,
                    resident_id=found.id,
                    checked_in_at=services.clock(),
                    method="staff",
                    walk_in=True,
                    party_size=1,
                )
            )


def audience(services: Services, spec: str) -> Audience:
    """The audience as a list, checked against the database's count of it, which a plain
    broadcast's fan-out records."""
    with services.session_factory() as db:
        found = resolve_audience(db, spec, services.clock(), CATEGORIES)
        counted = count_audience(db, spec, services.clock(), CATEGORIES)
    assert counted == AudienceCount(
        found.spec, found.size, found.excluded_unsubscribed, found.excluded_opted_out
    )
    return found


def openids(found: Audience) -> list[str]:
    return sorted(r.openid for r in found.recipients)


def broadcast_now(
    services: Services,
    spec: str,
    *,
    mass: bool = False,
    settings: BroadcastSettings = SERVICE,
    zh: str = "周六社区大扫除，欢迎参加",
    en: str = "Community clean-up on Saturday",
) -> int:
    now = services.clock()
    with services.session_factory() as db, db.begin():
        record = create_broadcast(
            db, Actor.os_user("test"), texts=text_message(zh, en), audience=spec, now=now, mass=mass
        )
        fan_out(db, record, now, settings)
        return record.id


def stored(services: Services, broadcast_id: int) -> Broadcast:
    with services.session_factory() as db:
        found = db.get(Broadcast, broadcast_id)
        assert found is not None
        return found


# Audiences ---------------------------------------------------------------------------------


def test_all_leaves_out_unsubscribed_and_opted_out_counting_each_once(services: Services) -> None:
    resident(services, "o-a")
    resident(services, "o-b", language="en")
    resident(services, "o-gone", subscribed=False)
    resident(services, "o-gone-quiet", subscribed=False, opted_out=True)
    resident(services, "o-quiet", opted_out=True)
    found = audience(services, " ALL ")
    assert found.spec == "all"
    assert openids(found) == ["o-a", "o-b"]
    assert (found.excluded_unsubscribed, found.excluded_opted_out) == (2, 1)


def test_tag_reaches_live_signups_and_attendance_of_tagged_events(services: Services) -> None:
    for openid in ("o-signed", "o-wait", "o-came", "o-cancelled", "o-other", "o-quiet"):
        resident(services, openid, opted_out=openid == "o-quiet")
    women = event(services, "女性技能课堂", "women")
    class_two = event(services, "女性读书会", "women", "reading")
    other = event(services, "儿童生态营", "children")
    signs_up(services, women, "o-signed", "o-quiet", "o-wait")  # capacity 2: o-wait waits
    signs_up(services, class_two, "o-cancelled")
    with services.session_factory() as db, db.begin():
        found = db.execute(select(Resident).where(Resident.openid == "o-cancelled")).scalar_one()
        cancel_signup(db, class_two, found, services.clock(), SHANGHAI)
    attends(services, class_two, "o-came")
    signs_up(services, other, "o-other")
    result = audience(services, "tag:Women")
    assert result.spec == "tag:women"
    assert openids(result) == ["o-came", "o-signed", "o-wait"]
    assert (result.excluded_unsubscribed, result.excluded_opted_out) == (0, 1)


def test_signed_up_is_confirmed_and_waitlisted(services: Services) -> None:
    for openid in ("o-1", "o-2", "o-3", "o-gone"):
        resident(services, openid)
    made = event(services)
    signs_up(services, made, "o-1", "o-gone", "o-3")
    with services.session_factory() as db, db.begin():
        db.execute(update(Resident).where(Resident.openid == "o-gone").values(subscribed=False))
    result = audience(services, f"signed-up:{made}")
    assert openids(result) == ["o-1", "o-3"]
    assert result.excluded_unsubscribed == 1


def test_attended_is_who_checked_in(services: Services) -> None:
    for openid in ("o-1", "o-2"):
        resident(services, openid)
    made = event(services)
    signs_up(services, made, "o-1", "o-2")
    attends(services, made, "o-2")
    assert openids(audience(services, f"attended:#{made}")) == ["o-2"]


def test_category_interest_is_who_raised_such_a_need(services: Services) -> None:
    with services.session_factory() as db, db.begin():
        for openid, category in (("o-lamp", "infrastructure"), ("o-books", "education")):
            found = get_or_create_resident(db, openid, services.clock())
            found.privacy_consent_at = services.clock()
            create_need(
                db, resident=found, category=category, description="…", now=found.created_at
            )
    assert openids(audience(services, "category-interest:infrastructure")) == ["o-lamp"]


def test_wrote_within_is_who_wrote_in_the_last_days_at_send_time(services: Services) -> None:
    """Counted back from the time the audience is resolved, so a scheduled broadcast
    reaches who wrote in the days before it goes out."""
    now = services.clock()
    with services.session_factory() as db, db.begin():
        for openid, days_ago in (("o-today", 0), ("o-week", 6), ("o-month", 30)):
            found = get_or_create_resident(db, openid, now)
            found.last_interaction_at = now - timedelta(days=days_ago, hours=1)
    assert openids(audience(services, "wrote-within:7")) == ["o-today", "o-week"]
    assert openids(audience(services, "Wrote-Within: 31")) == ["o-month", "o-today", "o-week"]
    assert audience(services, "wrote-within:007").spec == "wrote-within:7"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("wrote-within:0", "'0' is not a number of days from 1 to 366"),
        ("wrote-within:400", "'400' is not a number of days from 1 to 366"),
        ("wrote-within:a week", "'a week' is not a number of days"),
        ("everyone", "is not one of all, tag:T"),
        ("all:now", "is not one of all, tag:T"),
        ("tag:", "say which after the colon"),
        ("signed-up:abc", "'abc' is not an event id"),
        ("signed-up:999", "there is no event 999"),
        ("attended:999", "there is no event 999"),
        ("tag:astronauts", "There is no tag called 'astronauts'"),
        ("category-interest:space", "unknown category; use one of education, infrastructure"),
    ],
)
def test_bad_audience_is_one_clear_error(services: Services, spec: str, message: str) -> None:
    with pytest.raises(BroadcastError, match=message.replace("(", r"\(")):
        audience(services, spec)


# Messages ----------------------------------------------------------------------------------


def test_event_announcement_in_both_languages(services: Services) -> None:
    for openid in ("o-1", "o-2"):
        resident(services, openid)
    made = event(services, "女性技能课堂", "women")
    signs_up(services, made, "o-1")
    with services.session_factory() as db:
        found = db.get(Event, made)
        assert found is not None
        texts = event_announcement(db, found, SHANGHAI)
    # The event starts five days after 2026-05-01 10:00 Shanghai time.
    assert texts["zh"].splitlines() == [
        "活动：女性技能课堂",
        "时间：2026-05-06 10:00",
        "地点：社区活动中心",
        "剩余名额：1",
        f"回复“报名 {made}”报名",
    ]
    assert texts["en"].splitlines() == [
        "Event: 女性技能课堂",
        "When: 2026-05-06 10:00",
        "Where: 社区活动中心",
        "Places left: 1",
        f"Reply 'signup {made}' to sign up",
    ]


def test_event_announcement_offers_no_place_promised_to_the_waitlist(services: Services) -> None:
    for openid in ("o-1", "o-2"):
        resident(services, openid)
    made = event(services, party=2)
    signs_up(services, made, "o-1")
    with services.session_factory() as db, db.begin():
        found = db.execute(select(Resident).where(Resident.openid == "o-2")).scalar_one()
        assert sign_up(db, made, found, 2, services.clock()).waitlisted
    with services.session_factory() as db:
        announced = db.get(Event, made)
        assert announced is not None
        texts = event_announcement(db, announced, SHANGHAI)
    # One place is free, but the party of two waiting for it comes first.
    assert "名额已满，可报名候补" in texts["zh"].splitlines()
    assert "Full: signing up puts you on the waitlist" in texts["en"].splitlines()
    assert "剩余名额" not in texts["zh"] and "Places left" not in texts["en"]


# Sending -----------------------------------------------------------------------------------


def test_send_writes_one_row_per_recipient_and_the_worker_delivers_them(
    make_worker, clock: FakeClock, fake_wechat: FakeWeChatServer
) -> None:
    worker = make_worker()
    services = worker._services
    zh_id = resident(services, "o-zh", last_seen=clock.now)
    resident(services, "o-en", language="en", last_seen=clock.now)
    resident(services, "o-gone", subscribed=False, last_seen=clock.now)
    resident(services, "o-quiet", opted_out=True, last_seen=clock.now)
    broadcast_id = broadcast_now(services, "all")
    queued = pushes(services)
    assert sorted(row.recipient_openid for row in queued) == ["o-en", "o-zh"]
    assert {row.kind for row in queued} == {"broadcast"}
    assert f"broadcast:{broadcast_id}:{zh_id}" in {row.idempotency_key for row in queued}
    assert queued[0].expires_at == clock.now + timedelta(days=3)
    record = stored(services, broadcast_id)
    assert record.status == "sent" and record.sent_at == clock.now
    assert (record.recipients, record.excluded_unsubscribed, record.excluded_opted_out) == (2, 1, 1)
    with services.session_factory() as db, db.begin():  # fanning out again adds nothing
        again = db.get(Broadcast, broadcast_id)
        assert again is not None
        fan_out(db, again, clock.now, SERVICE)
    assert len(pushes(services)) == 2
    assert worker.run_once() == 2
    texts = {
        c["body"]["touser"]: c["body"]["text"]["content"]
        for c in sent_to(fake_wechat, "message/custom/send")
    }
    assert texts == {
        "o-zh": "周六社区大扫除，欢迎参加\n（回复“退订”不再接收活动推送）",
        "o-en": "Community clean-up on Saturday\n(Reply 'unsubscribe' to stop these broadcasts.)",
    }


def test_fan_out_of_many_recipients_reports_progress(services: Services) -> None:
    now = services.clock()
    with services.session_factory() as db, db.begin():
        db.execute(
            insert(Resident),
            [
                {
                    "openid": f"o-{n:05d}",
                    "subscribed": True,
                    "broadcast_opt_out": False,
                    "created_at": now,
                }
                for n in range(4500)
            ],
        )
    steps: list[int] = []
    with services.session_factory() as db, db.begin():
        record = create_broadcast(
            db, Actor.os_user("test"), texts=text_message("通知"), audience="all", now=now
        )
        result = fan_out(db, record, now, SERVICE, progress=steps.append)
    assert result.rows == 4500 and steps == [2000, 2000, 500]
    with services.session_factory() as db:
        assert db.execute(select(func.count()).select_from(OutboxMessage)).scalar_one() == 4500


def test_fan_out_batches_skip_who_it_does_not_reach_and_a_rerun_adds_nothing(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of 2 in id order, with residents left out between and at their edges:
    each reached resident gets one row, progress counts them, and a second run writes
    nothing and still reports its batches."""
    monkeypatch.setattr(fanout, "BATCH_SIZE", 2)
    reached = []
    for n in range(9):
        left_out = n in (0, 3, 4, 8)
        resident(services, f"o-{n}", subscribed=n != 3, opted_out=left_out and n != 3)
        if not left_out:
            reached.append(f"o-{n}")
    now = services.clock()
    runs = []
    with services.session_factory() as db, db.begin():
        record = create_broadcast(
            db, Actor.os_user("test"), texts=text_message("通知"), audience="all", now=now
        )
        for _ in range(2):
            steps: list[int] = []
            runs.append((fan_out(db, record, now, SERVICE, progress=steps.append).rows, steps))
    assert runs == [(5, [2, 2, 1]), (5, [2, 2, 1])]
    assert sorted(row.recipient_openid for row in pushes(services)) == reached


def test_scheduled_broadcast_goes_out_when_due_and_only_once(
    services: Services, clock: FakeClock
) -> None:
    resident(services, "o-1")
    resident(services, "o-2")
    with services.session_factory() as db, db.begin():
        record = create_broadcast(
            db,
            Actor.os_user("test"),
            texts=text_message("明天停水"),
            audience="all",
            now=clock.now,
            scheduled_at=clock.now + timedelta(hours=1),
        )
        broadcast_id = record.id
    resident(services, "o-late")  # counted when it goes, not when it was scheduled
    with services.session_factory() as db, db.begin():
        assert send_due_broadcasts(db, clock.now, SERVICE) == 0
    assert pushes(services) == []
    clock.advance(hours=1)
    with services.session_factory() as db, db.begin():
        assert send_due_broadcasts(db, clock.now, SERVICE) == 1
    with services.session_factory() as db, db.begin():
        assert send_due_broadcasts(db, clock.now + timedelta(minutes=1), SERVICE) == 0
    assert sorted(row.recipient_openid for row in pushes(services)) == ["o-1", "o-2", "o-late"]
    assert stored(services, broadcast_id).status == "sent"


def test_scheduled_event_broadcast_is_refused_when_the_event_was_cancelled(
    services: Services, clock: FakeClock
) -> None:
    resident(services, "o-1")
    made = event(services)
    with services.session_factory() as db, db.begin():
        found = db.get(Event, made)
        assert found is not None
        record = create_broadcast(
            db,
            Actor.os_user("test"),
            texts=event_announcement(db, found, SHANGHAI),
            audience="all",
            now=clock.now,
            event_id=made,
            scheduled_at=clock.now + timedelta(hours=2),
        )
        broadcast_id = record.id
        found.status = "cancelled"
    clock.advance(hours=3)
    with services.session_factory() as db, db.begin():
        assert send_due_broadcasts(db, clock.now, SERVICE) == 0
    record = stored(services, broadcast_id)
    assert record.status == "refused" and "cancelled, not published" in (record.error or "")
    assert pushes(services) == []


def test_scheduled_time_must_be_in_the_future(services: Services, clock: FakeClock) -> None:
    with services.session_factory() as db, pytest.raises(BroadcastError, match="future"):
        create_broadcast(
            db,
            Actor.os_user("test"),
            texts=text_message("x"),
            audience="all",
            now=clock.now,
            scheduled_at=clock.now - timedelta(minutes=1),
        )


# Mass sends --------------------------------------------------------------------------------


def test_mass_openid_lists_per_language_through_the_worker(
    make_worker, clock: FakeClock, fake_wechat: FakeWeChatServer
) -> None:
    worker = make_worker()
    services = worker._services
    for openid, language in (("o-1", "zh"), ("o-2", None), ("o-3", "en"), ("o-4", "en")):
        resident(services, openid, language=language)
    resident(services, "o-quiet", opted_out=True)
    broadcast_id = broadcast_now(services, "all", mass=True)
    mass = pushes(services, "mass")
    assert [row.recipient_openid for row in mass] == ["openids:zh:1-2", "openids:en:1-2"]
    assert pushes(services, "broadcast") == []
    assert worker.run_once() == 2
    bodies = sorted(
        (c["body"] for c in sent_to(fake_wechat, "message/mass/send")),
        key=lambda body: body["clientmsgid"],
    )
    assert bodies == [
        {
            "msgtype": "text",
            "text": {"content": "周六社区大扫除，欢迎参加\n（回复“退订”不再接收活动推送）"},
            "clientmsgid": f"aixiang-b{broadcast_id}-r1",
            "touser": ["o-1", "o-2"],
        },
        {
            "msgtype": "text",
            "text": {
                "content": "Community clean-up on Saturday\n"
                "(Reply 'unsubscribe' to stop these broadcasts.)"
            },
            "clientmsgid": f"aixiang-b{broadcast_id}-r2",
            "touser": ["o-3", "o-4"],
        },
    ]
    assert {row.status for row in pushes(services, "mass")} == {"sent"}
    assert {row.channel for row in pushes(services, "mass")} == {"mass"}
    with services.session_factory() as db:
        recorded = db.execute(select(func.count()).select_from(BroadcastRecipient)).scalar_one()
    assert recorded == 4


def test_mass_to_all_with_nobody_opted_out_is_one_sendall(
    make_worker, clock: FakeClock, fake_wechat: FakeWeChatServer
) -> None:
    worker = make_worker()
    services = worker._services
    resident(services, "o-1")
    resident(services, "o-2", language="en")
    resident(services, "o-gone", subscribed=False)
    broadcast_id = broadcast_now(services, "all", mass=True)
    [row] = pushes(services)
    assert row.kind == "mass" and row.recipient_openid == "all"
    worker.run_once()
    [call] = sent_to(fake_wechat, "message/mass/sendall")
    assert call["body"]["filter"] == {"is_to_all": True}
    assert call["body"]["clientmsgid"] == f"aixiang-b{broadcast_id}-r1"
    assert call["body"]["text"]["content"].startswith("周六社区大扫除")
    assert "Community clean-up on Saturday" in call["body"]["text"]["content"]
    assert fake_wechat.calls("message/mass/send") == []


def test_mass_retry_keeps_its_clientmsgid(
    make_worker, clock: FakeClock, fake_wechat: FakeWeChatServer
) -> None:
    worker = make_worker()
    services = worker._services
    resident(services, "o-1")
    resident(services, "o-2")
    resident(services, "o-quiet", opted_out=True)
    broadcast_now(services, "all", mass=True)
    fake_wechat.add_fault("message/mass/send", errcode=-1)
    worker.run_once()
    [row] = pushes(services, "mass")
    assert row.status == "failed"
    clock.set(row.next_attempt_at)
    worker.run_once()
    ids = [c["body"]["clientmsgid"] for c in fake_wechat.calls("message/mass/send")]
    assert len(ids) == 2 and ids[0] == ids[1]


def test_mass_recipient_alone_in_a_language_gets_a_normal_message(services: Services) -> None:
    resident(services, "o-1")
    resident(services, "o-2")
    resident(services, "o-en", language="en")
    resident(services, "o-quiet", opted_out=True)
    broadcast_now(services, "all", mass=True)
    assert [row.recipient_openid for row in pushes(services, "mass")] == ["openids:zh:1-2"]
    assert [row.recipient_openid for row in pushes(services, "broadcast")] == ["o-en"]


def test_mass_openid_lists_hold_at_most_ten_thousand_and_never_one() -> None:
    people = [Recipient(n, f"o-{n}", "zh") for n in range(2 * MASS_OPENIDS_MAX + 1)]
    plan = plan_mass(Audience("tag:x", people), SERVICE)
    sizes = [len(request.openids or []) for request in plan.requests]
    assert sizes == [6667, 6667, 6667] and plan.singles == []
    assert plan.requests[-1].target == "openids:zh:13335-20001"


def test_subscription_account_mass_sends_once_a_local_day(
    services: Services, clock: FakeClock
) -> None:
    resident(services, "o-1")
    resident(services, "o-2")
    first = broadcast_now(services, "all", mass=True, settings=SUBSCRIPTION)
    clock.set(datetime(2026, 5, 1, 15, 59, tzinfo=UTC))  # 23:59 in Shanghai
    with pytest.raises(BroadcastError, match=f"1 broadcast a day, and broadcast {first} uses"):
        broadcast_now(services, "all", mass=True, settings=SUBSCRIPTION)
    clock.set(datetime(2026, 5, 1, 16, 0, tzinfo=UTC))  # the next local day
    broadcast_now(services, "all", mass=True, settings=SUBSCRIPTION)
    assert len(pushes(services, "mass")) == 2


def test_subscription_account_mass_sends_anyone_but_everyone_by_tag(services: Services) -> None:
    resident(services, "o-1")
    resident(services, "o-2", language="en")
    resident(services, "o-3")
    resident(services, "o-quiet", opted_out=True)
    made = event(services, "女性技能课堂", "women")
    signs_up(services, made, "o-1", "o-quiet", "o-3")
    for spec, reached in (("all", ["o-1", "o-2", "o-3"]), ("tag:women", ["o-1", "o-3"])):
        [request] = plan_mass(audience(services, spec), SUBSCRIPTION).requests
        assert (request.method, request.language) == ("tag", "both")
        assert request.openids == reached
    [request] = plan_mass(audience(services, "tag:women"), SERVICE).requests
    assert request.method == "openids"


def test_service_account_reaches_a_resident_at_most_four_times_a_month(
    services: Services, clock: FakeClock
) -> None:
    resident(services, "o-1")
    resident(services, "o-2")
    resident(services, "o-quiet", opted_out=True)
    for _ in range(4):
        broadcast_now(services, "all", mass=True)
        clock.advance(minutes=5)
    with pytest.raises(BroadcastError, match="2 of the recipients already had 4 mass broadcasts"):
        broadcast_now(services, "all", mass=True)
    with services.session_factory() as db, db.begin():  # one WeChat never took does not count
        db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == pushes(services)[0].id)
            .values(status="dead")
        )
    broadcast_now(services, "all", mass=True)
    clock.set(datetime(2026, 5, 31, 16, 0, tzinfo=UTC))  # 1 June in Shanghai
    broadcast_now(services, "all", mass=True)


def test_sixty_mass_requests_a_minute(services: Services, clock: FakeClock) -> None:
    resident(services, "o-1")
    resident(services, "o-2")
    resident(services, "o-quiet", opted_out=True)
    with services.session_factory() as db, db.begin():
        for n in range(60):
            enqueue_push(
                db,
                recipient_openid="all",
                kind="mass",
                payload={"text": {"zh": "x", "en": "x"}, "target": {"to": "all"}},
                idempotency_key=f"other:{n}",
                now=clock.now - timedelta(seconds=30),
            )
    with pytest.raises(BroadcastError, match="60 mass-send requests a minute; 60 were queued"):
        broadcast_now(services, "all", mass=True)
    clock.advance(seconds=31)
    broadcast_now(services, "all", mass=True)


# The command -------------------------------------------------------------------------------


def counts(services: Services) -> tuple[int, int]:
    with services.session_factory() as db:
        return (
            db.execute(select(func.count()).select_from(Broadcast)).scalar_one(),
            db.execute(select(func.count()).select_from(OutboxMessage)).scalar_one(),
        )


def real_event(services: Services, *tags: str) -> int:
    now = utcnow()
    with services.session_factory() as db, db.begin():
        given_tags(db, tags, now)
        return create_event(
            db,
            title="社区花园共建",
            starts_at=now + timedelta(days=3),
            capacity=10,
            place="社区花园",
            tags=tags,
            publish=True,
            now=now,
        ).id


def test_dry_run_shows_audience_and_both_languages_and_writes_nothing(
    staff: CliRunner, services: Services
) -> None:
    resident(services, "o-1")
    resident(services, "o-2")
    resident(services, "o-gone", subscribed=False)
    resident(services, "o-quiet", opted_out=True)
    made = real_event(services, "gardening")
    out = run(staff, "broadcast", "--event", str(made), "--audience", "all", "--dry-run").stdout
    assert "dry run: nothing was queued" in out
    assert "recipients: 2" in out
    assert "excluded, unsubscribed: 1" in out and "excluded, opted out (退订): 1" in out
    assert "--- 中文 ---\n活动：社区花园共建" in out and f"回复“报名 {made}”报名" in out
    assert "--- English ---\nEvent: 社区花园共建" in out and f"Reply 'signup {made}'" in out
    assert "回复“退订”不再接收活动推送" in out
    data = json.loads(
        run(
            staff, "broadcast", "--text", "停水通知", "--audience", "all", "--dry-run", "--json"
        ).stdout
    )
    assert data["dry_run"] is True and data["recipients"] == 2
    assert data["text"]["en"].startswith("停水通知\n(Reply 'unsubscribe'")
    assert counts(services) == (0, 0)


def test_send_queues_a_row_per_recipient_with_a_progress_bar(
    staff: CliRunner, services: Services, make_worker, clock: FakeClock, fake_wechat
) -> None:
    now = utcnow()
    for n in range(3):
        resident(services, f"o-{n}", last_seen=now)
    result = run(
        staff,
        "broadcast",
        "--text",
        "周六大扫除",
        "--text-en",
        "Clean-up on Saturday",
        "--audience",
        "all",
    )
    assert "queuing" in result.stderr
    assert result.stdout.startswith("broadcast ") and "queued 3 messages" in result.stdout
    assert counts(services) == (1, 3)
    worker = make_worker()
    clock.set(utcnow() + timedelta(seconds=1))
    assert worker.run_once() == 3
    assert len(sent_to(fake_wechat, "message/custom/send")) == 3


def test_send_with_json_and_mass(staff: CliRunner, services: Services) -> None:
    resident(services, "o-1")
    resident(services, "o-2")
    resident(services, "o-en", language="en")
    resident(services, "o-quiet", opted_out=True)
    data = json.loads(
        run(staff, "broadcast", "--text", "通知", "--audience", "all", "--mass", "--json").stdout
    )
    assert data["status"] == "sent" and data["mass"] is True
    assert data["mass_requests"] == [
        {"target": "openids:zh:1-2", "method": "openids", "language": "zh", "recipients": 2}
    ]
    assert data["single_messages"] == 1 and data["rows"] == 2
    assert counts(services) == (1, 2)


def test_at_schedules_for_the_scheduler(staff: CliRunner, services: Services) -> None:
    resident(services, "o-1")
    at = (datetime.now(SHANGHAI) + timedelta(days=1)).replace(second=0, microsecond=0)
    out = run(
        staff,
        "broadcast",
        "--text",
        "明天见",
        "--audience",
        "all",
        "--at",
        at.strftime("%Y-%m-%dT%H:%M"),
    ).stdout
    assert "scheduled for " + at.strftime("%Y-%m-%d %H:%M") in out
    with services.session_factory() as db:
        [record] = db.execute(select(Broadcast)).scalars()
    assert record.status == "scheduled" and record.scheduled_at == at
    assert counts(services) == (1, 0)


def test_mass_quota_refusal_from_the_command(staff: CliRunner, services: Services) -> None:
    resident(services, "o-1")
    resident(services, "o-2")
    subscription = {"AIXIANG_WECHAT_ACCOUNT_TYPE": "subscription"}
    run(staff, "broadcast", "--text", "第一条", "--audience", "all", "--mass", env=subscription)
    line = fail(
        staff, "broadcast", "--text", "第二条", "--audience", "all", "--mass", env=subscription
    )
    assert line.startswith("error: --mass: a subscription account may mass-send 1 broadcast a day")
    assert counts(services) == (1, 1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--audience", "all"), "give exactly one of --event ID and --text TEXT"),
        (("--text", "x", "--event", "1", "--audience", "all"), "give exactly one of"),
        (("--text", "x"), "--audience is required"),
        (("--text-en", "x", "--event", "1", "--audience", "all"), "--text-en goes with --text"),
        (("--event", "999", "--audience", "all"), "--event: there is no event 999"),
        (("--event", "first", "--audience", "all"), "is not an event id"),
        (("--text", "x", "--audience", "everybody"), "is not one of all, tag:T"),
        (("--text", "x", "--audience", "category-interest:space"), "unknown category"),
        (("--text", "x", "--audience", "signed-up:999"), "there is no event 999"),
        (("--text", "x", "--audience", "all", "--at", "2020-01-01T09:00"), "not in the future"),
        (("--text", "x", "--audience", "all", "--at", "tomorrow"), "is not a date or time"),
        (("--text", " ", "--audience", "all"), "--text cannot be empty"),
        (("--text", "长" * 601, "--audience", "all"), "at most 600"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    staff: CliRunner, services: Services, args: tuple[str, ...], message: str
) -> None:
    resident(services, "o-1")
    line = fail(staff, "broadcast", *args)
    assert line.startswith("error: ") and message in line
    assert counts(services) == (0, 0)


def test_sending_to_nobody_is_refused(staff: CliRunner, services: Services) -> None:
    resident(services, "o-quiet", opted_out=True)
    line = fail(staff, "broadcast", "--text", "x", "--audience", "all", "--mass")
    assert "nobody to send to: --audience all" in line and "1 opted out" in line
    assert counts(services) == (0, 0)


def test_announcing_a_closed_event_is_refused(staff: CliRunner, services: Services) -> None:
    made = real_event(services)
    with services.session_factory() as db, db.begin():
        db.execute(update(Event).where(Event.id == made).values(status="cancelled"))
    assert "is cancelled, not published" in fail(
        staff, "broadcast", "--event", str(made), "--audience", "all"
    )
    assert counts(services) == (0, 0)


def broadcasts_command(staff: CliRunner, *args: str) -> Result:
    return staff.invoke(main, ["broadcasts", *args])


def test_staff_list_and_cancel_a_scheduled_broadcast_which_then_never_goes(
    staff: CliRunner, services: Services
) -> None:
    resident(services, "o-1")
    at = (datetime.now(SHANGHAI) + timedelta(days=1)).replace(second=0, microsecond=0)
    when = at.strftime("%Y-%m-%dT%H:%M")
    run(staff, "broadcast", "--text", "明天停水，请提前储水", "--audience", "all", "--at", when)
    run(staff, "broadcast", "--text", "后天见", "--audience", "all", "--at", when)
    listed = json.loads(broadcasts_command(staff, "list", "--json").stdout)
    assert [(b["id"], b["status"], b["at"]) for b in listed] == [
        (1, "scheduled", at.isoformat()),
        (2, "scheduled", at.isoformat()),
    ]
    assert listed[0]["text"] == "明天停水，请提前储水"

    result = broadcasts_command(staff, "cancel", "1")
    assert result.exit_code == 0, result.output
    assert "broadcast 1 cancelled" in result.stdout
    table = broadcasts_command(staff, "list").stdout
    assert "后天见" in table and "明天停水" not in table
    everything = json.loads(broadcasts_command(staff, "list", "--all", "--json").stdout)
    assert {b["id"]: b["status"] for b in everything} == {1: "cancelled", 2: "scheduled"}

    with services.session_factory() as db, db.begin():
        assert send_due_broadcasts(db, utcnow() + timedelta(days=2), SERVICE) == 1
    assert [row.recipient_openid for row in pushes(services, "broadcast")] == ["o-1"]
    assert "后天见" in pushes(services, "broadcast")[0].payload["text"]["zh"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("cancel", "7"), "there is no broadcast 7"),
        (("cancel", "x1"), "'x1' is not a broadcast id"),
        (("cancel", "1"), "broadcast 1 is sent, not scheduled"),
    ],
)
def test_cancel_refuses_what_it_cannot_cancel(
    staff: CliRunner, services: Services, args: tuple[str, ...], message: str
) -> None:
    resident(services, "o-1")
    run(staff, "broadcast", "--text", "已发出", "--audience", "all")
    result = broadcasts_command(staff, *args)
    assert result.exit_code == 2, result.output
    [line] = result.stderr.strip().splitlines()
    assert message in line
    assert stored(services, 1).status == "sent"
