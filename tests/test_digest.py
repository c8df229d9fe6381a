"""The morning digest to staff: what it says, and that it is queued once a day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.config.sections import DEFAULT_NEED_CATEGORIES
from bot.services import Services
from bot.wechat.fake_api.server import FakeWeChatServer
from models import OutboxMessage, Resident
from models.broadcasts.audience import resolve_audience
from models.digest import compose_digest, queue_digest
from models.events.signups import sign_up
from models.events.staff import create_event
from models.needs.submission import create_need
from models.residents import get_or_create_resident
from tests.chat import Chat
from tests.conftest import FakeClock
from tests.helpers import SHANGHAI

# The fake clock starts at 2026-05-01 02:00 UTC, 10:00 in Shanghai.
START = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)


def need(services: Services, category: str, age: timedelta, status: str = "submitted") -> None:
    with services.session_factory() as db, db.begin():
        resident = get_or_create_resident(db, "o-resident", START)
        resident.privacy_consent_at = START
        made = create_need(
            db, resident=resident, category=category, description="路灯坏了", now=START - age
        )
        made.status = status


def event(services: Services, title: str, starts_at: datetime, status: str = "published") -> int:
    with services.session_factory() as db, db.begin():
        made = create_event(
            db,
            title=title,
            starts_at=starts_at,
            capacity=2,
            publish=status != "draft",
            now=START - timedelta(days=10),
        )
        made.status = status
        return made.id


def sign_ups(services: Services, event_id: int, count: int) -> None:
    with services.session_factory() as db, db.begin():
        for n in range(count):
            resident = get_or_create_resident(db, f"o-{event_id}-{n}", START)
            sign_up(db, event_id, resident, 1, START - timedelta(days=1))


@pytest.fixture
def busy_town(services: Services) -> dict[str, int]:
    need(services, "infrastructure", timedelta(hours=1))
    need(services, "infrastructure", timedelta(hours=23))
    need(services, "education", timedelta(hours=5))
    need(services, "education", timedelta(hours=25))  # yesterday's digest had it
    need(services, "environment", timedelta(days=4))  # waiting, submitted
    need(services, "jobs", timedelta(days=9), status="in_progress")  # waiting
    need(services, "other", timedelta(days=6), status="resolved")  # done: not waiting
    need(services, "other", timedelta(days=6), status="duplicate")
    need(services, "other", timedelta(days=2), status="acknowledged")  # not three days yet
    today = event(services, "社区花园共建", datetime(2026, 5, 1, 6, 30, tzinfo=UTC))  # 14:30
    sign_ups(services, today, 3)  # two places: one waits
    tomorrow = event(services, "女性技能课堂", datetime(2026, 5, 2, 1, 0, tzinfo=UTC))  # 09:00
    event(services, "取消的活动", datetime(2026, 5, 1, 8, 0, tzinfo=UTC), status="cancelled")
    event(services, "草稿", datetime(2026, 5, 1, 8, 0, tzinfo=UTC), status="draft")
    event(services, "后天的活动", datetime(2026, 5, 2, 16, 30, tzinfo=UTC))  # 3 May 00:30
    return {"today": today, "tomorrow": tomorrow}


def test_digest_content_in_both_languages(services: Services, busy_town: dict[str, int]) -> None:
    with services.session_factory() as db:
        texts = compose_digest(db, START, SHANGHAI, DEFAULT_NEED_CATEGORIES)
    assert texts["zh"].splitlines() == [
        "爱乡每日简报 2026-05-01",
        "【新需求】过去24小时 3 条：基础设施 2、教育 1",
        "【等待超过3天】2 条（已提交 1、处理中 1）：",
        "· N-000006 就业技能，处理中，已 9 天",
        "· N-000005 环境卫生，已提交，已 4 天",
        "【今天的活动】",
        f"· 14:30 社区花园共建（#{busy_town['today']}）已确认 2/2 人，候补 1",
        "【明天的活动】",
        f"· 09:00 女性技能课堂（#{busy_town['tomorrow']}）已确认 0/2 人，候补 0",
    ]
    assert texts["en"].splitlines() == [
        "Aixiang daily digest 2026-05-01",
        "New needs in the last 24 hours: 3 (infrastructure 2, education 1)",
        "Needs open for more than 3 days: 2 (submitted 1, in progress 1):",
        "· N-000006 jobs and skills, in progress, 9 days",
        "· N-000005 environment and waste, submitted, 4 days",
        "Today's events:",
        f"· 14:30 社区花园共建 (#{busy_town['today']}): 2/2 confirmed, 1 waitlisted",
        "Tomorrow's events:",
        f"· 09:00 女性技能课堂 (#{busy_town['tomorrow']}): 0/2 confirmed, 0 waitlisted",
    ]


def test_quiet_day_digest(services: Services) -> None:
    with services.session_factory() as db:
        texts = compose_digest(db, START, SHANGHAI, DEFAULT_NEED_CATEGORIES)
    assert "【新需求】过去24小时没有新需求" in texts["zh"]
    assert "【今天的活动】无" in texts["zh"] and "Tomorrow's events: none" in texts["en"]


def test_long_waiting_list_is_cut_with_a_count(services: Services) -> None:
    for days in range(4, 16):
        need(services, "other", timedelta(days=days))
    with services.session_factory() as db:
        texts = compose_digest(db, START, SHANGHAI, DEFAULT_NEED_CATEGORIES)
    assert texts["zh"].count("\n· N-") == 10 and "……另有 2 条" in texts["zh"]
    assert "... and 2 more" in texts["en"]


def digest_rows(services: Services) -> list[OutboxMessage]:
    with services.session_factory() as db:
        return list(
            db.execute(
                select(OutboxMessage).where(OutboxMessage.kind == "digest").order_by("id")
            ).scalars()
        )


def queue(services: Services, clock: FakeClock, digest_time: str = "08:00") -> int:
    with services.session_factory() as db, db.begin():
        return queue_digest(
            db,
            clock.now,
            SHANGHAI,
            ["o-staff-1", " o-staff-2 ", "o-staff-1", ""],
            digest_time,
            DEFAULT_NEED_CATEGORIES,
        )


def test_queued_once_a_day_after_its_time(services: Services, clock: FakeClock) -> None:
    with services.session_factory() as db, db.begin():
        get_or_create_resident(db, "o-staff-1", clock.now).language = "en"
    assert queue(services, clock, digest_time="10:01") == 0  # it is 10:00 in Shanghai
    clock.advance(minutes=1)
    assert queue(services, clock, digest_time="10:01") == 2
    assert queue(services, clock, digest_time="10:01") == 0
    clock.advance(hours=13)  # 23:01, same local day
    assert queue(services, clock, digest_time="10:01") == 0
    clock.advance(hours=11)  # 10:01 the next day
    assert queue(services, clock, digest_time="10:01") == 2
    found = digest_rows(services)
    assert [row.idempotency_key for row in found] == [
        "digest:2026-05-01:o-staff-1",
        "digest:2026-05-01:o-staff-2",
        "digest:2026-05-02:o-staff-1",
        "digest:2026-05-02:o-staff-2",
    ]
    assert found[0].expires_at == datetime(2026, 5, 2, 2, 1, tzinfo=UTC)
    assert found[0].payload["fields"]["date"] == "2026-05-01"
    assert found[0].payload["text"]["zh"].startswith("爱乡每日简报 2026-05-01")
    with services.session_factory() as db:  # a staff openid new to us became a resident
        staff = db.execute(select(Resident).where(Resident.openid == "o-staff-2")).scalar_one()
    assert found[1].resident_id == staff.id


def test_no_staff_no_digest(services: Services, clock: FakeClock) -> None:
    with services.session_factory() as db, db.begin():
        assert queue_digest(db, clock.now, SHANGHAI, [], "08:00", DEFAULT_NEED_CATEGORIES) == 0
    assert digest_rows(services) == []


def test_the_worker_delivers_the_digest_in_each_staff_language(
    make_worker, clock: FakeClock, fake_wechat: FakeWeChatServer
) -> None:
    worker = make_worker()
    services = worker._services
    with services.session_factory() as db, db.begin():
        for openid, language in (("o-staff-1", "en"), ("o-staff-2", "zh")):
            staff = get_or_create_resident(db, openid, clock.now)
            staff.language = language
            staff.last_interaction_at = clock.now
            staff.last_interaction_kind = "message"
    assert queue(services, clock) == 2
    assert worker.run_once() == 2
    texts = {
        c["body"]["touser"]: c["body"]["text"]["content"]
        for c in fake_wechat.calls("message/custom/send")
    }
    assert texts["o-staff-1"].startswith("Aixiang daily digest 2026-05-01")
    assert texts["o-staff-2"].startswith("爱乡每日简报 2026-05-01")


def test_a_staff_openid_never_seen_to_follow_is_not_in_broadcasts_yet_gets_the_digest(
    make_worker, clock: FakeClock, fake_wechat: FakeWeChatServer, chat: Chat
) -> None:
    """The digest makes a resident of a configured staff openid; until WeChat says they
    followed, a broadcast to everyone neither counts nor reaches them, and the digest
    still goes to them (WeChat's 43004 would say if they cannot receive it)."""
    digest_template = {"template_id": "TPL-digest", "fields": {"first": "{text}"}}
    worker = make_worker(push={"templates": {"digest": digest_template}})
    services = worker._services
    with services.session_factory() as db, db.begin():
        get_or_create_resident(db, "o-follower", clock.now)
    assert queue(services, clock) == 2
    with services.session_factory() as db:
        everyone = resolve_audience(db, "all", clock.now)
        staff = db.execute(select(Resident).where(Resident.openid == "o-staff-2")).scalar_one()
        assert (staff.subscribed, staff.subscribed_at, staff.unsubscribed_at) == (False, None, None)
    assert [r.openid for r in everyone.recipients] == ["o-follower"]
    assert everyone.excluded_unsubscribed == 2

    assert worker.run_once() == 2
    assert {row.status for row in digest_rows(services)} == {"sent"}
    sent = {c["body"]["touser"] for c in fake_wechat.calls("message/template/send")}
    assert sent == {"o-staff-1", "o-staff-2"}

    chat.event("subscribe", openid="o-staff-2")
    with services.session_factory() as db:
        reached = [r.openid for r in resolve_audience(db, "all", clock.now).recipients]
    assert reached == ["o-follower", "o-staff-2"]


def test_a_staff_member_already_following_stays_subscribed(
    services: Services, clock: FakeClock
) -> None:
    with services.session_factory() as db, db.begin():
        get_or_create_resident(db, "o-staff-1", clock.now)
    queue(services, clock)
    with services.session_factory() as db:
        staff = db.execute(select(Resident).where(Resident.openid == "o-staff-1")).scalar_one()
    assert staff.subscribed is True
