"""The village rules on both databases: names unique where they must be, a resident's
answer matched loosely, a staff name exactly, a need placed by its place or its resident,
retired villages kept but no longer offered, the filter lists use, and the views'
village columns."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.services import Services
from models.audit import Actor
from models.events.staff import create_event
from models.needs.submission import create_need
from models.needs.tables import Need
from models.residents import get_or_create_resident
from models.villages.errors import VillageError
from models.villages.operations import add_village, retire_village, set_resident_village
from models.villages.queries import (
    VillageEntry,
    active_villages,
    find_village,
    has_villages,
    in_village,
    match_village,
    village_named_in,
)
from models.villages.tables import Village
from tests.conftest import FakeClock
from tests.villages import add_villages

ACTOR = Actor.os_user("test")


@pytest.fixture
def db(services: Services) -> Iterator[Session]:
    add_villages(services)
    with services.session_factory() as session:
        yield session


def needs_at(db: Session, clock: FakeClock, *places: str | None) -> None:
    """One need at each place, by a resident with no village."""
    resident = get_or_create_resident(db, "o-1", clock.now)
    resident.privacy_consent_at = clock.now
    for place in places:
        create_need(
            db, resident=resident, category="other", description="d", now=clock.now, place=place
        )


def chosen(entries: list[VillageEntry], answer: str) -> list[str]:
    return [entry.label for entry in match_village(entries, answer)]


def test_answers_by_number_name_start_or_part(db: Session) -> None:
    entries = active_villages(db)
    assert [entry.label for entry in entries] == ["朝阳村", "朝阳村·一组", "朝阳村·二组", "李家村"]
    assert chosen(entries, "2") == ["朝阳村·一组"]
    assert chosen(entries, "２") == ["朝阳村·一组"], "full-width digits, as phones type them"
    assert chosen(entries, "0") == chosen(entries, "5") == []
    assert chosen(entries, "李家村") == ["李家村"]
    assert chosen(entries, "朝阳村") == ["朝阳村"], "the village, not its groups"
    assert chosen(entries, "朝阳") == ["朝阳村"]
    assert chosen(entries, "朝阳村 二组") == chosen(entries, "朝阳村·二组") == ["朝阳村·二组"]
    assert chosen(entries, "二组") == ["朝阳村·二组"]
    assert chosen(entries, "村") == ["朝阳村", "李家村"], "ambiguous: both said back"
    assert chosen(entries, "王庄") == chosen(entries, "  ") == []


def test_staff_name_a_village_exactly(db: Session, clock: FakeClock) -> None:
    assert find_village(db, "朝阳村·一组").name == "一组"
    assert find_village(db, " 李家村 ").name == "李家村"
    with pytest.raises(VillageError, match="no village or group called '朝阳'"):
        find_village(db, "朝阳")
    add_village(db, ACTOR, "一组", clock.now, within=find_village(db, "李家村"))
    with pytest.raises(VillageError, match="More than one is called '一组'"):
        find_village(db, "一组")


def test_names_are_unique_among_villages_and_within_a_village(
    db: Session, clock: FakeClock
) -> None:
    lijia = find_village(db, "李家村")
    add_village(db, ACTOR, "一组", clock.now, within=lijia)  # another village's 一组
    with pytest.raises(VillageError, match="'一组' is already there"):
        add_village(db, ACTOR, "一组", clock.now, within=lijia)
    with pytest.raises(VillageError, match="'李家村' is already there"):
        add_village(db, ACTOR, "ＬＩ家村".replace("ＬＩ", "李"), clock.now)
    db.rollback()
    # The database keeps them apart too, whatever a caller skipped.
    db.add(Village(name="李家村", created_at=clock.now))
    with pytest.raises(IntegrityError):
        db.flush()
    db.rollback()
    db.add(Village(name="一组", parent_id=find_village(db, "朝阳村").id, created_at=clock.now))
    with pytest.raises(IntegrityError):
        db.flush()


def test_a_retired_village_is_kept_but_not_offered(db: Session, clock: FakeClock) -> None:
    resident = get_or_create_resident(db, "o-1", clock.now)
    chaoyang = find_village(db, "朝阳村")
    set_resident_village(db, resident, find_village(db, "朝阳村·一组").id, clock.now)
    retire_village(db, ACTOR, chaoyang, clock.now)
    assert [entry.label for entry in active_villages(db)] == ["李家村"]
    assert resident.village_id == find_village(db, "朝阳村·一组").id
    with pytest.raises(VillageError):
        set_resident_village(db, resident, chaoyang.id, clock.now)
    retire_village(db, ACTOR, find_village(db, "李家村"), clock.now)
    assert not has_villages(db)


def test_a_need_is_in_the_village_its_place_names_else_its_residents(
    db: Session, clock: FakeClock
) -> None:
    assert village_named_in(db, "朝阳村二组村口").label == "朝阳村·二组"  # type: ignore[union-attr]
    assert village_named_in(db, "朝阳村小学").label == "朝阳村"  # type: ignore[union-attr]
    assert village_named_in(db, "朝阳村和李家村之间") is None, "two villages: not one"
    assert village_named_in(db, "老街") is None
    resident = get_or_create_resident(db, "o-1", clock.now)
    resident.privacy_consent_at = clock.now
    set_resident_village(db, resident, find_village(db, "李家村").id, clock.now)

    def need(place: str | None) -> int | None:
        made = create_need(
            db, resident=resident, category="other", description="路灯", now=clock.now, place=place
        )
        return made.village_id

    assert need("朝阳村二组村口") == find_village(db, "朝阳村·二组").id
    assert need("老街") == need(None) == find_village(db, "李家村").id


def test_lists_narrow_to_a_village_and_its_groups(db: Session, clock: FakeClock) -> None:
    needs_at(db, clock, "朝阳村", "朝阳村一组", "李家村", None)
    chaoyang, group = find_village(db, "朝阳村").id, find_village(db, "朝阳村·一组").id

    def places(village_id: int) -> list[str | None]:
        query = select(Need.place).where(in_village(Need.village_id, village_id)).order_by(Need.id)
        return list(db.execute(query).scalars())

    assert places(chaoyang) == ["朝阳村", "朝阳村一组"]
    assert places(group) == ["朝阳村一组"]
    assert places(find_village(db, "朝阳村·二组").id) == []


def test_the_views_name_the_village_in_columns_at_the_end(db: Session, clock: FakeClock) -> None:
    needs_at(db, clock, "朝阳村二组", "李家村", None)
    create_event(
        db,
        title="清洁日",
        starts_at=clock.now.replace(year=clock.now.year + 1, month=1, day=1),
        capacity=5,
        now=clock.now,
        village_id=find_village(db, "朝阳村·一组").id,
    )
    db.commit()
    needs = db.execute(text("SELECT * FROM needs_overview ORDER BY ref"))
    assert list(needs.keys())[-2:] == ["village", "village_group"]
    assert [tuple(row[-2:]) for row in needs] == [
        ("朝阳村", "二组"),
        ("李家村", None),
        (None, None),
    ]
    events = db.execute(text("SELECT title, village, village_group FROM event_summary"))
    assert [tuple(row) for row in events] == [("清洁日", "朝阳村", "一组")]
