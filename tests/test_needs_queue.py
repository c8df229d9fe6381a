"""The needs queue at the model level: each filter, each order, pages with their count,
the deadline to acknowledge per category, a partner's scope, and the search that picks
the original of a duplicate."""

from __future__ import annotations

from datetime import datetime

from bot.services import Services
from models.audit import Actor
from models.needs.queries import get_need
from models.needs.queue import (
    OPEN,
    UNASSIGNED,
    AckDeadlines,
    QueueFilter,
    QueueSort,
    matching_needs,
    queue_page,
)
from models.needs.tables import NeedStatus
from models.needs.transitions import change_status
from models.villages.operations import add_village
from tests.conftest import FakeClock
from tests.workbench import MakeNeed

DEADLINES = AckDeadlines({"infrastructure": 2, "education": 5}, default=3)


def refs(
    services: Services, wanted: QueueFilter, now: datetime, page: int = 1, size: int = 25
) -> list[str]:
    with services.session_factory() as db:
        return [row.need.ref for row in queue_page(db, wanted, DEADLINES, now, page, size).rows]


def test_filters_narrow_and_the_count_agrees(
    services: Services, clock: FakeClock, make_need: MakeNeed, partners: dict[str, int]
) -> None:
    lamp = make_need("老街路灯坏了", days_old=4)
    books = make_need("图书室缺书", category="education", days_old=1, openid="o-b")
    road = make_need(
        "路面塌了一块", days_old=3, status=NeedStatus.ACKNOWLEDGED, partner=partners["镇建设办"]
    )
    done = make_need("路灯已修好", status=NeedStatus.RESOLVED)
    river = make_need(
        "河边垃圾", category="environment", partner=partners["绿源"], status=NeedStatus.IN_PROGRESS
    )
    now = clock.now
    assert refs(services, QueueFilter(), now) == [lamp, road, books, river]  # open, waiting longest
    assert refs(services, QueueFilter(status=""), now) == [lamp, road, books, done, river]
    assert refs(services, QueueFilter(status=NeedStatus.RESOLVED), now) == [done]
    assert refs(services, QueueFilter(category="education"), now) == [books]
    assert refs(services, QueueFilter(partner=str(partners["绿源"])), now) == [river]
    assert refs(services, QueueFilter(partner=UNASSIGNED), now) == [lamp, books]
    assert refs(services, QueueFilter(text="路灯", status=""), now) == [lamp, done]
    assert refs(services, QueueFilter(text="%"), now) == []  # a wildcard is a character
    assert refs(services, QueueFilter(min_age_days=3), now) == [lamp, road]
    with services.session_factory() as db:
        page = queue_page(db, QueueFilter(status=OPEN), DEADLINES, now)
        assert page.total == 4 and page.pages == 1


def test_over_time_means_unacknowledged_past_the_categorys_deadline(
    services: Services, clock: FakeClock, make_need: MakeNeed
) -> None:
    late_lamp = make_need("路灯", days_old=2.5)  # infrastructure: 2 days
    make_need("图书", category="education", days_old=4)  # education: 5 days
    late_other = make_need("别的", category="unlisted", days_old=3.5)  # the default: 3
    make_need("已受理", days_old=9, status=NeedStatus.ACKNOWLEDGED)
    make_need("刚提交", days_old=1)
    assert refs(services, QueueFilter(over_time=True), clock.now) == [late_other, late_lamp]
    with services.session_factory() as db:
        flags = {
            row.need.ref: row.over_time
            for row in queue_page(db, QueueFilter(), DEADLINES, clock.now).rows
        }
    assert [ref for ref, late in flags.items() if late] == [late_other, late_lamp]


def test_orders_waiting_newest_and_most_residents_affected(
    services: Services, clock: FakeClock, make_need: MakeNeed
) -> None:
    old = make_need("一", days_old=3)
    middle = make_need("二", days_old=2)
    new = make_need("三", days_old=1)
    for openid in ("o-b", "o-c"):  # two other residents say "me too" to the middle one
        me_too = make_need("同上", openid=openid)
        with services.session_factory() as db, db.begin():
            change_status(
                db,
                get_need(db, me_too),
                NeedStatus.DUPLICATE,
                "t",
                "同一件事",
                False,
                clock.now,
                duplicate_of=get_need(db, middle),
            )
    assert refs(services, QueueFilter(), clock.now) == [old, middle, new]
    assert refs(services, QueueFilter(sort=QueueSort.NEWEST), clock.now) == [new, middle, old]
    assert refs(services, QueueFilter(sort=QueueSort.DEMAND), clock.now) == [middle, old, new]
    with services.session_factory() as db:
        rows = queue_page(db, QueueFilter(sort=QueueSort.DEMAND), DEADLINES, clock.now).rows
    assert [row.demand_count for row in rows] == [3, 1, 1]


def test_pages_and_counts(services: Services, clock: FakeClock, make_need: MakeNeed) -> None:
    made = [make_need(f"需求 {n}", days_old=10 - n) for n in range(5)]
    assert refs(services, QueueFilter(), clock.now, page=1, size=2) == made[:2]
    assert refs(services, QueueFilter(), clock.now, page=3, size=2) == made[4:]
    assert refs(services, QueueFilter(), clock.now, page=4, size=2) == []
    with services.session_factory() as db:
        page = queue_page(db, QueueFilter(), DEADLINES, clock.now, 2, 2)
    assert (page.total, page.page, page.pages) == (5, 2, 3)


def test_a_partner_sees_only_its_own_whatever_it_asks(
    services: Services, clock: FakeClock, make_need: MakeNeed, partners: dict[str, int]
) -> None:
    ours = make_need("我们的", partner=partners["镇建设办"], status=NeedStatus.ACKNOWLEDGED)
    make_need("别人的", partner=partners["绿源"], status=NeedStatus.ACKNOWLEDGED)
    make_need("没分派的")
    scoped = QueueFilter().scoped(partners["镇建设办"])
    assert refs(services, scoped, clock.now) == [ours]
    widened = QueueFilter(partner=str(partners["绿源"])).scoped(partners["镇建设办"])
    assert refs(services, widened, clock.now) == []
    newest = refs(services, QueueFilter(sort=QueueSort.NEWEST), clock.now)
    with services.session_factory() as db:
        need = get_need(db, ours)
        assert matching_needs(db, "的", need, partners["镇建设办"]) == []
        assert [n.ref for n in matching_needs(db, "的", need, None)] == [
            ref for ref in newest if ref != ours
        ]


def test_the_originals_search_finds_words_or_a_ref_and_never_a_duplicate(
    services: Services, clock: FakeClock, make_need: MakeNeed
) -> None:
    lamp = make_need("老街路灯坏了", days_old=2)
    again = make_need("路灯又坏了", days_old=1)
    asking = make_need("路灯不亮")
    with services.session_factory() as db, db.begin():
        change_status(
            db,
            get_need(db, again),
            NeedStatus.DUPLICATE,
            "t",
            "同一件",
            False,
            clock.now,
            duplicate_of=get_need(db, lamp),
        )
    with services.session_factory() as db:
        need = get_need(db, asking)
        assert [n.ref for n in matching_needs(db, "路灯", need, None)] == [lamp]
        assert [n.ref for n in matching_needs(db, lamp, need, None)] == [lamp]
        assert matching_needs(db, "  ", need, None) == []


def test_a_village_takes_its_groups_along(
    services: Services, clock: FakeClock, make_need: MakeNeed
) -> None:
    made = [make_need(text, openid=f"o-{n}", days_old=3 - n) for n, text in enumerate("一二三")]
    with services.session_factory() as db, db.begin():
        chaoyang = add_village(db, Actor.os_user("t"), "朝阳村", clock.now)
        group = add_village(db, Actor.os_user("t"), "一组", clock.now, within=chaoyang)
        other = add_village(db, Actor.os_user("t"), "河西村", clock.now)
        for ref, village in zip(made, (chaoyang, group, other), strict=True):
            get_need(db, ref).village_id = village.id
        village_ids = (chaoyang.id, group.id, other.id)
    assert refs(services, QueueFilter(village_id=village_ids[0]), clock.now) == made[:2]
    assert refs(services, QueueFilter(village_id=village_ids[1]), clock.now) == made[1:2]
    assert refs(services, QueueFilter(village_id=village_ids[2]), clock.now) == made[2:]


def test_the_search_ignores_letter_case_and_takes_chinese_and_digits_as_written(
    services: Services, clock: FakeClock, make_need: MakeNeed
) -> None:
    """Words with a letter case are matched in any case (ILIKE on PostgreSQL); Chinese and
    digits, which have none, by the plain LIKE that costs less when the table is read."""
    wifi = make_need("村委会的WiFi信号很差", days_old=2)
    pipe = make_need("3号井的水管漏水", days_old=1, openid="o-pipe")
    now = clock.now
    assert refs(services, QueueFilter(text="wifi"), now) == [wifi]
    assert refs(services, QueueFilter(text="WIFI信号"), now) == [wifi]
    assert refs(services, QueueFilter(text="3号井"), now) == [pipe]
    assert refs(services, QueueFilter(text="水管"), now) == [pipe]
    assert refs(services, QueueFilter(text="_号"), now) == []  # a wildcard is a character
