"""The need rules: transitions, history, pushes, duplicates, partners and the staff view."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from bot.services import Services
from models import Need, NeedHistory, OutboxMessage, Partner, Resident
from models.audit import Actor
from models.needs.erasure import erase_resident_data
from models.needs.errors import NeedError, NeedRefusal
from models.needs.queries import demand_counts, get_need, list_needs, parse_ref
from models.needs.submission import create_need
from models.needs.tables import need_ref
from models.needs.transitions import change_status
from models.partners import PartnerError, add_partner, get_partner
from models.residents import get_or_create_resident
from tests.conftest import FakeClock
from tests.helpers import count_in, pushes_in

# Who adds the partners these rules are tried with.
STAFF = Actor.os_user("test")

MakeNeed = Callable[..., Need]


@pytest.fixture
def db(services: Services) -> Session:
    with services.session_factory() as session:
        yield session


@pytest.fixture
def make_need(db: Session, clock: FakeClock) -> MakeNeed:
    def make(openid: str = "o-1", category: str = "environment", text: str = "垃圾") -> Need:
        resident = get_or_create_resident(db, openid, clock.now)
        resident.privacy_consent_at = clock.now
        need = create_need(
            db, resident=resident, category=category, description=text, now=clock.now
        )
        db.commit()
        return need

    return make


def test_refs() -> None:
    assert need_ref(123) == "N-000123"
    assert need_ref(1_234_567) == "N-1234567"
    for typed in ("N-000123", "n-123", "N123", "123", " n-000123 "):
        assert parse_ref(typed) == 123
    for bad in ("N-", "abc", "N-0", "", "N-12a"):
        assert parse_ref(bad) is None


def test_the_whole_life_of_a_need(db: Session, make_need: MakeNeed, clock: FakeClock) -> None:
    need = make_need()
    start = clock.now
    partner = add_partner(db, STAFF, name="镇环卫站", kind="government", now=clock.now)
    clock.advance(hours=3)
    change_status(db, need, "acknowledged", "王", "已转环卫站", True, clock.now, partner=partner)
    clock.advance(hours=5)
    change_status(db, need, "in_progress", "王", None, False, clock.now)
    clock.advance(hours=16)
    change_status(db, need, "resolved", "李", "已清运", False, clock.now)
    db.commit()

    assert need.acknowledged_at == start + timedelta(hours=3)
    assert need.resolved_at == start + timedelta(hours=24)
    assert need.partner_id == partner.id and need.updated_at == clock.now
    history = db.execute(select(NeedHistory).order_by(NeedHistory.id)).scalars().all()
    assert [(h.by, h.from_status, h.to_status, h.note, h.public) for h in history] == [
        ("resident", None, "submitted", None, False),
        ("王", "submitted", "acknowledged", "已转环卫站", True),
        ("王", "acknowledged", "in_progress", None, False),
        ("李", "in_progress", "resolved", "已清运", False),
    ]
    assert history[1].partner_id == partner.id
    sent = pushes_in(db)
    assert [p.kind for p in sent] == ["need_status"] * 3
    assert [p.idempotency_key for p in sent] == [
        f"need_status:{need.id}:{h.id}" for h in history[1:]
    ]
    assert all(p.recipient_openid == "o-1" and p.status == "pending" for p in sent)
    first = sent[0].payload
    assert first["text"]["zh"] == (
        "您的需求 N-000001 已受理，我们会尽快跟进。\n负责方：镇环卫站\n说明：已转环卫站"
    )
    assert first["text"]["en"].startswith("Your need N-000001 has been acknowledged")
    assert first["fields"]["status"] == "acknowledged" and first["fields"]["note"] == "已转环卫站"
    assert "已清运" not in sent[2].payload["text"]["zh"]
    assert sent[2].payload["fields"]["note"] == ""


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        ((), "in_progress"),
        ((), "resolved"),
        ((), "submitted"),
        (("acknowledged",), "submitted"),
        (("acknowledged", "resolved"), "in_progress"),
        (("acknowledged", "resolved"), "acknowledged"),
    ],
)
def test_invalid_transitions_are_refused_and_write_nothing(
    db: Session, make_need: MakeNeed, clock: FakeClock, path: tuple[str, ...], refused: str
) -> None:
    need = make_need()
    for status in path:
        change_status(db, need, status, "王", None, False, clock.now)
    db.commit()
    before = (count_in(db, NeedHistory), count_in(db, OutboxMessage), need.status)
    with pytest.raises(NeedError) as error:
        change_status(db, need, refused, "王", None, False, clock.now)
    db.rollback()
    assert "\n" not in str(error.value)
    assert (count_in(db, NeedHistory), count_in(db, OutboxMessage), need.status) == before


def test_refusal_messages(db: Session, make_need: MakeNeed, clock: FakeClock) -> None:
    need = make_need()
    cases = [
        (("closed", None, False), "unknown status 'closed'"),
        (
            ("resolved", None, False),
            "N-000001 is submitted; it can move to acknowledged, declined, merged as a duplicate,"
            " not to resolved",
        ),
        (("declined", None, False), "needs a reason"),
        (("duplicate", "same", False), "needs the need it duplicates"),
        (("submitted", None, False), "already submitted"),
        (("acknowledged", None, True), "a public note needs its text"),
    ]
    for (status, note, public), message in cases:
        with pytest.raises(NeedError, match=message):
            change_status(db, need, status, "王", note, public, clock.now)
    with pytest.raises(NeedRefusal) as in_chinese:
        change_status(db, need, "resolved", "王", None, False, clock.now)
    assert in_chinese.value.text("zh") == (
        "N-000001 当前状态为“已提交”，只能改为已受理、未能受理、已合并，不能改为“已解决”"
    ), "statuses by their names, in the reader's language"
    with pytest.raises(NeedError, match="only given when marking a need duplicate"):
        change_status(db, need, "acknowledged", "王", None, False, clock.now, duplicate_of=need)
    with pytest.raises(NeedError, match="cannot be a duplicate of itself"):
        change_status(db, need, "duplicate", "王", "同", False, clock.now, duplicate_of=need)


def test_final_statuses_say_so(db: Session, make_need: MakeNeed, clock: FakeClock) -> None:
    need = make_need()
    change_status(db, need, "declined", "王", "不在本村范围", True, clock.now)
    with pytest.raises(NeedError, match="nothing \\(it is final\\)"):
        change_status(db, need, "acknowledged", "王", None, False, clock.now)
    assert "说明：不在本村范围" in pushes_in(db)[0].payload["text"]["zh"]
    assert "未能受理" in pushes_in(db)[0].payload["text"]["zh"]


def test_notes_without_a_status_change(db: Session, make_need: MakeNeed, clock: FakeClock) -> None:
    need = make_need()
    change_status(db, need, "submitted", "王", "内部：先核实", False, clock.now)
    assert pushes_in(db) == []
    entry = change_status(db, need, "submitted", "王", "下周派人查看", True, clock.now)
    [push] = pushes_in(db)
    assert push.kind == "need_note"
    assert push.idempotency_key == f"need_note:{need.id}:{entry.id}"
    assert push.payload["text"]["zh"] == "您的需求 N-000001 有新进展。\n说明：下周派人查看"
    assert need.status == "submitted" and need.acknowledged_at is None


def test_assigning_a_partner_alone_is_internal(
    db: Session, make_need: MakeNeed, clock: FakeClock
) -> None:
    need = make_need()
    partner = add_partner(db, STAFF, name="阳光志愿队", kind="volunteer", now=clock.now)
    entry = change_status(db, need, "submitted", "王", None, False, clock.now, partner=partner)
    assert need.partner_id == partner.id and entry.partner_id == partner.id
    assert pushes_in(db) == []


def test_a_partner_with_a_contact_hears_of_each_need_handed_to_them(
    db: Session, make_need: MakeNeed, clock: FakeClock
) -> None:
    need = make_need(text="学校缺美术老师")
    need.place = "希望小学"
    school = add_partner(
        db,
        STAFF,
        name="希望小学",
        kind="school",
        now=clock.now,
        contact_openid="o-principal",
    )
    quiet = add_partner(db, STAFF, name="阳光志愿队", kind="volunteer", now=clock.now)
    change_status(db, need, "acknowledged", "王", "请周五前联系", False, clock.now, partner=school)
    change_status(db, need, "in_progress", "王", None, False, clock.now, partner=school)
    told = [row for row in pushes_in(db) if row.kind == "need_assigned"]
    assert [row.recipient_openid for row in told] == ["o-principal"]  # once, not on re-assign
    text = told[0].payload["text"]
    assert need.ref in text["zh"] and "学校缺美术老师" in text["zh"] and "希望小学" in text["zh"]
    assert "请周五前联系" in text["zh"] and need.ref in text["en"]
    assert told[0].resident_id is not None  # the contact's WeChat window rules apply
    contact = db.get_one(Resident, told[0].resident_id)
    assert not contact.subscribed  # not a follower, so not in broadcasts, until WeChat says
    change_status(db, need, "in_progress", "王", None, False, clock.now, partner=quiet)
    assert len([row for row in pushes_in(db) if row.kind == "need_assigned"]) == 1  # no contact


def test_duplicates_link_to_the_root_and_count_demand(
    db: Session, make_need: MakeNeed, clock: FakeClock
) -> None:
    original = make_need("o-a", text="路灯坏了")
    second = make_need("o-b", text="老街路灯不亮")
    third = make_need("o-c", text="晚上太黑")
    fourth = make_need("o-d", text="路灯")
    change_status(
        db, second, "duplicate", "王", "同一盏灯", False, clock.now, duplicate_of=original
    )
    change_status(db, third, "duplicate", "王", "同一盏灯", False, clock.now, duplicate_of=second)
    assert third.duplicate_of_id == original.id
    change_status(db, original, "duplicate", "王", "合并", False, clock.now, duplicate_of=fourth)
    db.commit()
    db.expire_all()
    assert {n.id: n.duplicate_of_id for n in db.execute(select(Need)).scalars()} == {
        original.id: fourth.id,
        second.id: fourth.id,
        third.id: fourth.id,
        fourth.id: None,
    }
    [row] = [r for r in list_needs(db) if r.need.id == fourth.id]
    assert row.demand_count == 4
    assert list_needs(db, by_demand=True)[0].need.id == fourth.id
    merged_push = pushes_in(db)[0].payload["text"]
    assert merged_push["zh"].startswith("您的需求 N-000002 与 N-000001 相同，已合并")


def test_residents_of_merged_needs_hear_about_the_original(
    db: Session, make_need: MakeNeed, clock: FakeClock
) -> None:
    original = make_need("o-a")
    mine = make_need("o-b")
    again = make_need("o-a")
    change_status(db, mine, "duplicate", "王", "同", False, clock.now, duplicate_of=original)
    change_status(db, again, "duplicate", "王", "同", False, clock.now, duplicate_of=original)
    before = len(pushes_in(db))
    entry = change_status(db, original, "acknowledged", "王", None, False, clock.now)
    new = pushes_in(db)[before:]
    resident_b = db.execute(select(Resident).where(Resident.openid == "o-b")).scalar_one()
    assert [(p.recipient_openid, p.idempotency_key) for p in new] == [
        ("o-a", f"need_status:{original.id}:{entry.id}"),
        ("o-b", f"need_status:{original.id}:{entry.id}:{resident_b.id}"),
    ]
    assert new[1].payload["text"]["zh"].startswith("您的需求 N-000002（已并入 N-000001）已受理")
    assert new[1].payload["fields"]["ref"] == "N-000002"


def test_partners(db: Session, clock: FakeClock) -> None:
    partner = add_partner(
        db,
        STAFF,
        name="Hope School",
        kind="school",
        now=clock.now,
        contact_openid="o",
    )
    assert get_partner(db, "hope school") is partner
    assert get_partner(db, str(partner.id)) is partner
    with pytest.raises(PartnerError, match="exists already"):
        add_partner(db, STAFF, name="Hope School", kind="school", now=clock.now)
    with pytest.raises(PartnerError, match="unknown partner kind 'club'"):
        add_partner(db, STAFF, name="X", kind="club", now=clock.now)
    with pytest.raises(PartnerError, match="no partner 'Nobody'"):
        get_partner(db, "Nobody")
    with pytest.raises(NeedError, match="no need 'N-000404'"):
        get_need(db, "N-000404")
    assert count_in(db, Partner) == 1


def test_create_need_needs_consent_and_words(db: Session, clock: FakeClock) -> None:
    resident = get_or_create_resident(db, "o-1", clock.now)
    with pytest.raises(NeedError, match="privacy notice"):
        create_need(db, resident=resident, category="other", description="x", now=clock.now)
    resident.privacy_consent_at = clock.now
    with pytest.raises(NeedError, match="description"):
        create_need(db, resident=resident, category="other", description="  ", now=clock.now)


def test_needs_overview(db: Session, make_need: MakeNeed, clock: FakeClock) -> None:
    start = clock.now
    original = make_need("o-a", category="infrastructure")
    duplicate = make_need("o-b", category="infrastructure")
    make_need("o-c", category="education")
    partner = add_partner(db, STAFF, name="镇建设办", kind="government", now=clock.now)
    clock.advance(hours=2)
    change_status(db, original, "acknowledged", "王", None, False, clock.now, partner=partner)
    change_status(db, duplicate, "duplicate", "王", "同", False, clock.now, duplicate_of=original)
    clock.advance(hours=10)
    change_status(db, original, "resolved", "王", None, False, clock.now)
    db.commit()
    result = db.execute(text("SELECT * FROM needs_overview ORDER BY ref"))
    assert list(result.keys()) == [
        "ref",
        "category",
        "status",
        "partner",
        "demand_count",
        "created_at",
        "acknowledged_at",
        "resolved_at",
        "hours_to_acknowledge",
        "hours_to_resolve",
        # Added by 0018_villages, at the end.
        "village",
        "village_group",
    ]
    rows = [row._asdict() for row in result]
    first = rows[0]
    assert (first["ref"], first["category"], first["status"], first["partner"]) == (
        "N-000001",
        "infrastructure",
        "resolved",
        "镇建设办",
    )
    assert first["demand_count"] == 2
    assert float(first["hours_to_acknowledge"]) == pytest.approx(2.0)
    assert float(first["hours_to_resolve"]) == pytest.approx(12.0)
    assert str(first["created_at"])[:16] == start.strftime("%Y-%m-%d %H:%M")
    assert [(r["ref"], r["demand_count"], r["hours_to_acknowledge"]) for r in rows[1:]] == [
        ("N-000002", 1, None),
        ("N-000003", 1, None),
    ]


def test_needs_overview_counts_residents_not_needs(
    db: Session, make_need: MakeNeed, clock: FakeClock
) -> None:
    """One resident raising the same need twice counts once, as in the chat and the CLI."""
    original = make_need("o-a", text="路灯坏了")
    again_by_a = make_need("o-a", text="路灯还是坏的")
    by_b = make_need("o-b", text="路灯不亮")
    b_once_more = make_need("o-b", text="路灯")
    for merged in (again_by_a, by_b, b_once_more):
        change_status(db, merged, "duplicate", "王", "同", False, clock.now, duplicate_of=original)
    db.commit()
    rows = db.execute(text("SELECT ref, demand_count FROM needs_overview ORDER BY ref")).all()
    assert [tuple(row) for row in rows] == [
        ("N-000001", 2),
        ("N-000002", 1),
        ("N-000003", 1),
        ("N-000004", 1),
    ]
    assert demand_counts(db, [original.id]) == {original.id: 2}


def test_view_timestamps_match_history(db: Session, make_need: MakeNeed, clock: FakeClock) -> None:
    """acknowledged_at/resolved_at are the first history rows reaching those statuses."""
    need = make_need()
    clock.advance(minutes=90)
    change_status(db, need, "acknowledged", "王", None, False, clock.now)
    change_status(db, need, "acknowledged", "王", "note", False, clock.now + timedelta(hours=1))
    clock.advance(hours=3)
    change_status(db, need, "resolved", "王", None, False, clock.now)
    db.commit()
    for status, stamp in (("acknowledged", need.acknowledged_at), ("resolved", need.resolved_at)):
        first = db.execute(
            select(func.min(NeedHistory.created_at)).where(
                NeedHistory.need_id == need.id,
                NeedHistory.to_status == status,
                NeedHistory.from_status != status,
            )
        ).scalar_one()
        assert first == stamp


def test_the_documented_example_queries_run(
    db: Session, make_need: MakeNeed, clock: FakeClock
) -> None:
    """docs/data-model.md's needs queries work (those marked PostgreSQL only there)."""
    need = make_need()
    change_status(db, need, "acknowledged", "王", None, False, clock.now)
    db.commit()
    doc = (Path(__file__).parent.parent / "docs" / "data-model.md").read_text()
    section = doc[doc.index("## Needs: need") :]
    sql = section[
        section.index("```sql") + len("```sql") : section.index("```", section.index("```sql") + 6)
    ]
    queries = [q.strip() for q in sql.split("\n\n") if q.strip()]
    assert len(queries) >= 4
    postgres = db.get_bind().dialect.name == "postgresql"
    for query in queries:
        if "(PostgreSQL)" in query.splitlines()[0] and not postgres:
            continue
        db.execute(text(query.rstrip(";"))).all()


def test_a_stale_need_is_read_again_before_it_changes(
    services: Services, make_need: MakeNeed, clock: FakeClock
) -> None:
    """A second staff member working from an old copy sees the first one's change."""
    make_need()
    with services.session_factory() as mine, services.session_factory() as theirs:
        stale = get_need(mine, "N-000001")
        mine.commit()
        with theirs.begin():
            change_status(
                theirs, get_need(theirs, "N-000001"), "declined", "李", "重复", False, clock.now
            )
        with pytest.raises(NeedError, match="is declined"), mine.begin():
            change_status(mine, stale, "acknowledged", "王", None, False, clock.now)


def test_demand_counts_residents_not_needs(
    db: Session, make_need: MakeNeed, clock: FakeClock
) -> None:
    """A resident who raises the same need twice, or whose second need is merged along
    with someone else's, is one resident asking."""
    lamp = make_need("o-a", text="路灯坏了")
    again = make_need("o-a", text="路灯还是坏的")
    other = make_need("o-b", text="老街路灯不亮")
    other_again = make_need("o-b", text="老街还是黑")
    rubbish = make_need("o-c", text="垃圾")
    rubbish_too = make_need("o-d", text="垃圾没人收")
    for duplicate in (again, other, other_again):
        change_status(db, duplicate, "duplicate", "王", "同", False, clock.now, duplicate_of=lamp)
    change_status(db, rubbish_too, "duplicate", "王", "同", False, clock.now, duplicate_of=rubbish)
    db.commit()
    assert demand_counts(db, [lamp.id, rubbish.id, again.id]) == {
        lamp.id: 2,
        rubbish.id: 2,
        again.id: 1,
    }
    by_demand = list_needs(db, by_demand=True)
    assert [row.need.id for row in by_demand[:2]] == [rubbish.id, lamp.id]  # tie: newest first
    assert [row.demand_count for row in by_demand[:2]] == [2, 2]


def test_erased_needs_still_count_as_residents(
    db: Session, make_need: MakeNeed, clock: FakeClock
) -> None:
    """An erased need has no resident any more, so it counts as one resident of its own."""
    lamp = make_need("o-a", text="路灯坏了")
    other = make_need("o-b", text="老街路灯不亮")
    change_status(db, other, "duplicate", "王", "同", False, clock.now, duplicate_of=lamp)
    for openid in ("o-a", "o-b"):
        person = db.execute(select(Resident).where(Resident.openid == openid)).scalar_one()
        erase_resident_data(db, person, clock.now)
    db.commit()
    assert demand_counts(db, [lamp.id]) == {lamp.id: 2}


def test_a_need_erased_before_it_is_assigned_reaches_the_partner_without_words(
    db: Session, make_need: MakeNeed, clock: FakeClock
) -> None:
    need = make_need("o-a", text="我家门口垃圾没人收，电话13900001111")
    need.place = "幸福小区3栋"
    person = db.execute(select(Resident).where(Resident.openid == "o-a")).scalar_one()
    erase_resident_data(db, person, clock.now)
    partner = add_partner(
        db,
        STAFF,
        name="环卫所",
        kind="government",
        now=clock.now,
        contact_openid="o-p",
    )
    change_status(db, need, "acknowledged", "王", None, False, clock.now, partner=partner)
    [told] = [row for row in pushes_in(db) if row.kind == "need_assigned"]
    assert told.payload["text"]["zh"] == (
        f"环卫所：爱乡共建俱乐部将需求 {need.ref}（environment）交给您跟进。\n"
        "内容和地点已应居民要求删除。"
    )
    assert "13900001111" not in str(told.payload) and "幸福小区" not in str(told.payload)
