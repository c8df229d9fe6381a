"""Event rules at the model level, the event_summary view and the documented staff queries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from bot.demo.seed import seed_demo_events, seed_demo_tags
from bot.services import Services
from models.audit import Actor
from models.events.checkin import check_in, check_in_by_code
from models.events.errors import EventError, EventRefusal
from models.events.queries import occupancy
from models.events.signups import cancel_signup, normalize_mobile, save_contact, sign_up
from models.events.staff import cancel_event, create_event, update_event
from models.events.tables import CheckinMethod
from models.residents import Resident, get_or_create_resident
from tests.conftest import FakeClock
from tests.tags import given_tags

TZ = ZoneInfo("Asia/Shanghai")
SUMMARY_COLUMNS = [
    "event_id",
    "title",
    "starts_at",
    "capacity",
    "confirmed",
    "waitlisted",
    "cancelled",
    "attended",
    "walk_ins",
    "attendance_rate",
    "unique_residents",
    # Added by 0018_villages, at the end.
    "village",
    "village_group",
    # Added by 0022_event_summary_status, at the end.
    "status",
]

# The examples in docs/data-model.md, run here on both databases.
UNIQUE_RESIDENTS_THIS_YEAR = """
SELECT COUNT(DISTINCT a.resident_id) AS residents_served
FROM attendance a
JOIN event e ON e.id = a.event_id
WHERE e.starts_at >= '2026-01-01' AND e.starts_at < '2027-01-01'
  AND e.status NOT IN ('draft', 'cancelled')
"""
ATTENDANCE_BY_TAG = """
SELECT t.tag,
       SUM(s.confirmed) AS confirmed,
       SUM(s.attended) AS attended,
       ROUND(1.0 * SUM(s.attended) / NULLIF(SUM(s.confirmed), 0), 3) AS attendance_rate
FROM event_summary s
JOIN event_tag t ON t.event_id = s.event_id
WHERE s.status NOT IN ('draft', 'cancelled')
GROUP BY t.tag
ORDER BY attendance_rate DESC, t.tag
"""
ATTENDANCE_BY_TAG_NAMES = """
SELECT g.name_zh, g.name_en,
       ROUND(1.0 * SUM(s.attended) / NULLIF(SUM(s.confirmed), 0), 3) AS attendance_rate
FROM event_summary s
JOIN event_tag t ON t.event_id = s.event_id
JOIN tag g ON g.key = t.tag
WHERE s.status NOT IN ('draft', 'cancelled')
GROUP BY g.name_zh, g.name_en
ORDER BY attendance_rate DESC
"""


@pytest.fixture
def db(services: Services) -> Iterator[Session]:
    with services.session_factory() as session, session.begin():
        yield session


def people(db: Session, clock: FakeClock, *openids: str) -> list[Resident]:
    return [get_or_create_resident(db, openid, clock.now) for openid in openids]


def test_event_summary_counts_people(db: Session, clock: FakeClock) -> None:
    given_tags(db, ["elderly"], clock.now)
    event = create_event(
        db,
        title="垃圾分类日",
        starts_at=clock.now + timedelta(days=1),
        capacity=6,
        max_party_size=3,
        now=clock.now,
        publish=True,
        tags=["elderly"],
    )
    a, b, c, d, e, walker = people(db, clock, "o-a", "o-b", "o-c", "o-d", "o-e", "o-walk")
    sign_up(db, event.id, a, 3, clock.now)
    sign_up(db, event.id, b, 1, clock.now)
    sign_up(db, event.id, c, 1, clock.now)
    sign_up(db, event.id, d, 2, clock.now)  # does not fit: waitlisted
    sign_up(db, event.id, e, 1, clock.now)  # waits behind d, though one place is free
    cancel_signup(db, event.id, e, clock.now, TZ)  # gives up waiting: the place stays free
    clock.advance(days=1)
    check_in(db, event.id, a, CheckinMethod.QR, clock.now)
    check_in(db, event.id, walker, CheckinMethod.QR, clock.now)
    result = db.execute(text("SELECT * FROM event_summary"))
    assert list(result.keys()) == SUMMARY_COLUMNS
    row = result.one()._mapping
    assert row["event_id"] == event.id and row["title"] == "垃圾分类日" and row["capacity"] == 6
    assert (row["confirmed"], row["waitlisted"], row["cancelled"]) == (5, 2, 1)
    assert (row["attended"], row["walk_ins"], row["unique_residents"]) == (3, 1, 2)
    assert float(row["attendance_rate"]) == pytest.approx(0.6)
    assert db.execute(text(UNIQUE_RESIDENTS_THIS_YEAR)).scalar_one() == 2
    [(tag, confirmed, attended, rate)] = db.execute(text(ATTENDANCE_BY_TAG)).all()
    assert (tag, confirmed, attended, float(rate)) == ("elderly", 5, 3, pytest.approx(0.6))
    [(name_zh, name_en, rate)] = db.execute(text(ATTENDANCE_BY_TAG_NAMES)).all()
    assert (name_zh, name_en, float(rate)) == ("长者", "elderly", pytest.approx(0.6))


def test_event_summary_of_an_empty_event(db: Session, clock: FakeClock) -> None:
    create_event(db, title="空", starts_at=clock.now + timedelta(days=1), capacity=5, now=clock.now)
    row = db.execute(text("SELECT * FROM event_summary")).one()._mapping
    assert [row[c] for c in SUMMARY_COLUMNS[4:]] == [0, 0, 0, 0, 0, None, 0, None, None, "draft"]


def test_the_documented_queries_leave_drafts_and_cancelled_events_out(
    db: Session, clock: FakeClock
) -> None:
    given_tags(db, ["elderly"], clock.now)
    for status in ("draft", "cancelled"):
        other = create_event(
            db,
            title=status,
            starts_at=clock.now + timedelta(days=1),
            capacity=5,
            now=clock.now,
            publish=True,
            tags=["elderly"],
        )
        [resident] = people(db, clock, f"o-{status}")
        sign_up(db, other.id, resident, 1, clock.now)
        check_in(db, other.id, resident, CheckinMethod.STAFF, clock.now + timedelta(days=1))
        other.status = status
    db.flush()
    assert db.execute(
        text("SELECT status FROM event_summary ORDER BY event_id")
    ).scalars().all() == [
        "draft",
        "cancelled",
    ]
    assert db.execute(text(UNIQUE_RESIDENTS_THIS_YEAR)).scalar_one() == 0
    assert db.execute(text(ATTENDANCE_BY_TAG)).all() == []


def test_full_without_waitlist_writes_nothing(db: Session, clock: FakeClock) -> None:
    event = create_event(
        db,
        title="小",
        starts_at=clock.now + timedelta(days=1),
        capacity=1,
        now=clock.now,
        publish=True,
    )
    first, second = people(db, clock, "o-1", "o-2")
    sign_up(db, event.id, first, 1, clock.now)
    with pytest.raises(EventError) as refused:
        sign_up(db, event.id, second, 1, clock.now, join_waitlist=False)
    assert refused.value.reason == EventRefusal.FULL
    assert db.execute(text("SELECT COUNT(*) FROM signup")).scalar_one() == 1


def test_contact_required_is_enforced_by_the_model(db: Session, clock: FakeClock) -> None:
    event = create_event(
        db,
        title="需联系",
        starts_at=clock.now + timedelta(days=1),
        capacity=5,
        now=clock.now,
        publish=True,
        contact_required=True,
    )
    [resident] = people(db, clock, "o-1")
    with pytest.raises(EventError) as refused:
        sign_up(db, event.id, resident, 1, clock.now)
    assert refused.value.reason == EventRefusal.CONTACT_REQUIRED
    save_contact(resident, "张三", "13812345678", clock.now)
    assert sign_up(db, event.id, resident, 1, clock.now).signup.status == "confirmed"


def test_cancelled_event_cannot_be_changed(db: Session, clock: FakeClock) -> None:
    event = create_event(
        db,
        title="取消",
        starts_at=clock.now + timedelta(days=1),
        capacity=5,
        now=clock.now,
        publish=True,
    )
    cancel_event(db, event.id, "下雨", clock.now, TZ)
    with pytest.raises(EventError) as refused:
        update_event(db, event.id, clock.now, TZ, title="新")
    assert refused.value.reason == EventRefusal.EVENT_CANCELLED
    with pytest.raises(EventError) as refused:
        cancel_event(db, event.id, "again", clock.now, TZ)
    assert refused.value.reason == EventRefusal.EVENT_CANCELLED


def test_update_refuses_a_party_larger_than_capacity(db: Session, clock: FakeClock) -> None:
    event = create_event(
        db, title="x", starts_at=clock.now + timedelta(days=1), capacity=5, now=clock.now
    )
    with pytest.raises(EventError) as refused:
        update_event(db, event.id, clock.now, TZ, max_party_size=6)
    assert refused.value.reason == EventRefusal.INVALID
    with pytest.raises(ValueError, match="cannot update"):
        update_event(db, event.id, clock.now, TZ, status="published")


def test_waitlisted_code_at_the_door_is_a_walk_in(db: Session, clock: FakeClock) -> None:
    event = create_event(
        db,
        title="门口",
        starts_at=clock.now + timedelta(hours=1),
        capacity=3,
        max_party_size=2,
        now=clock.now,
        publish=True,
    )
    one, two, big = people(db, clock, "o-one", "o-two", "o-big")
    sign_up(db, event.id, one, 1, clock.now)
    sign_up(db, event.id, two, 1, clock.now)
    waiting = sign_up(db, event.id, big, 2, clock.now).signup
    assert waiting.status == "waitlisted"  # 1 place free, their party is 2
    result = check_in_by_code(db, event.id, waiting.checkin_code, clock.now)
    assert result.walk_in and result.attendance.method == CheckinMethod.CODE
    assert result.attendance.party_size == 1
    # Their waitlist place is given up: freed places never promote them on top of it.
    assert waiting.status == "cancelled" and waiting.waitlist_position is None
    assert cancel_signup(db, event.id, one, clock.now, TZ).promoted == []
    assert cancel_signup(db, event.id, two, clock.now, TZ).promoted == []
    assert occupancy(db, event).places_left == 2


@pytest.mark.parametrize(
    ("typed", "mobile"),
    [
        ("13812345678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("+86 138-1234-5678", "13812345678"),
        ("8613812345678", "13812345678"),
        ("1381234567", None),
        ("23812345678", None),
        ("12812345678", None),
        ("138123456789", None),
        ("phone", None),
    ],
)
def test_mobile_numbers(typed: str, mobile: str | None) -> None:
    assert normalize_mobile(typed) == mobile


def test_seed_demo_events_once(db: Session, clock: FakeClock) -> None:
    seed_demo_tags(db, Actor.os_user("tests"), clock.now)
    created = seed_demo_events(db, clock.now)
    assert len(created) == 4
    assert all(event.status == "published" and event.starts_at > clock.now for event in created)
    assert min(event.capacity for event in created) == 2
    assert {tag for event in created for tag in event.tags} == {
        "children",
        "women",
        "volunteers",
        "elderly",
    }
    assert seed_demo_events(db, clock.now) == []


def test_places_go_in_the_order_they_were_asked_for(db: Session, clock: FakeClock) -> None:
    """A party waiting for places is never overtaken: a later sign-up joins the waitlist
    behind it even where its own party would fit, and places freed go to it first."""
    event = create_event(
        db,
        title="排队",
        starts_at=clock.now + timedelta(days=1),
        capacity=4,
        max_party_size=3,
        now=clock.now,
        publish=True,
    )
    a, b, c, party, single, late = people(db, clock, "o-a", "o-b", "o-c", "o-p", "o-s", "o-l")
    for holder in (a, b, c):
        sign_up(db, event.id, holder, 1, clock.now)
    waiting = sign_up(db, event.id, party, 3, clock.now).signup
    assert (waiting.status, waiting.waitlist_position) == ("waitlisted", 1)
    later = sign_up(db, event.id, single, 1, clock.now).signup
    assert (later.status, later.waitlist_position) == ("waitlisted", 2)
    assert occupancy(db, event).places_left == 1 and occupancy(db, event).places_open == 0
    with pytest.raises(EventError) as refused:
        sign_up(db, event.id, late, 1, clock.now, join_waitlist=False)
    assert refused.value.reason == EventRefusal.FULL
    # Two places are not enough for the party, and the single behind it still waits.
    assert cancel_signup(db, event.id, a, clock.now, TZ).promoted == []
    assert cancel_signup(db, event.id, b, clock.now, TZ).promoted == [waiting]
    assert (later.status, later.waitlist_position) == ("waitlisted", 1)
    assert cancel_signup(db, event.id, c, clock.now, TZ).promoted == [later]
