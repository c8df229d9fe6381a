"""The managed tag list: a tag named by either language's name, each change audited with
its actor, bad names refused with nothing written, and events keep what a change leaves."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.services import Services
from models.audit import Actor, AuditEntry
from models.events.staff import create_event, update_event
from models.events.tables import Event
from models.tags.errors import TagError
from models.tags.operations import add_tag, merge_tag, rename_tag, set_tag_active
from models.tags.queries import active_tags, all_tags, find_tag
from tests.conftest import FakeClock
from tests.helpers import SHANGHAI

ADMIN = Actor.os_user("ops")


@pytest.fixture
def db(services: Services) -> Iterator[Session]:
    with services.session_factory() as session, session.begin():
        yield session


def audit(db: Session) -> list[tuple[str, int | None, object, object]]:
    entries = db.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()
    return [(e.action, e.object_id, e.before, e.after) for e in entries]


def tagged(db: Session, clock: FakeClock, *tags: str) -> Event:
    return create_event(
        db,
        title="活动",
        starts_at=clock.now + timedelta(days=2),
        capacity=5,
        now=clock.now,
        publish=True,
        tags=tags,
    )


def test_either_name_finds_the_tag(db: Session, clock: FakeClock) -> None:
    elderly = add_tag(db, ADMIN, "长者", "Elderly", clock.now)
    assert elderly.key == "elderly"
    for typed in ("长者", " 长者 ", "elderly", "ELDERLY", "Elderly", "ｅｌｄｅｒｌｙ"):
        assert find_tag(db, typed) is elderly
    event = tagged(db, clock, "长者", "elderly")
    assert event.tags == ["elderly"]
    assert event.tag_names("zh") == ["长者"] and event.tag_names("en") == ["Elderly"]


def test_an_unknown_name_is_refused_naming_the_tags(db: Session, clock: FakeClock) -> None:
    add_tag(db, ADMIN, "长者", "elderly", clock.now)
    add_tag(db, ADMIN, "儿童", "children", clock.now)
    with pytest.raises(TagError) as refused:
        find_tag(db, "老人")
    assert str(refused.value) == (
        "There is no tag called '老人'. The tags are: 长者/elderly, 儿童/children."
    )
    assert refused.value.text("zh") == (
        "没有名为“老人”的标签。现有标签：长者/elderly, 儿童/children。"
    )


def test_each_change_is_audited_with_its_actor(db: Session, clock: FakeClock) -> None:
    elderly = add_tag(db, ADMIN, "老人", "elderly", clock.now)
    rename_tag(db, ADMIN, elderly, clock.now, name_zh="长者")
    rename_tag(db, ADMIN, elderly, clock.now, name_en="Older people")
    set_tag_active(db, ADMIN, elderly, False, clock.now)
    set_tag_active(db, ADMIN, elderly, True, clock.now)
    assert (elderly.key, elderly.name_zh, elderly.name_en) == ("elderly", "长者", "Older people")
    assert audit(db) == [
        ("tag.add", 1, None, {"key": "elderly", "name_zh": "老人", "name_en": "elderly"}),
        (
            "tag.rename",
            1,
            {"name_zh": "老人", "name_en": "elderly"},
            {"name_zh": "长者", "name_en": "elderly"},
        ),
        (
            "tag.rename",
            1,
            {"name_zh": "长者", "name_en": "elderly"},
            {"name_zh": "长者", "name_en": "Older people"},
        ),
        ("tag.deactivate", 1, {"active": True}, {"active": False}),
        ("tag.activate", 1, {"active": False}, {"active": True}),
    ]
    [label] = {entry.actor_label for entry in db.execute(select(AuditEntry)).scalars()}
    assert label == "ops (os user)"


@pytest.mark.parametrize(
    ("name_zh", "name_en", "field", "said"),
    [
        ("", "elderly", "name_zh", "A tag's name is not empty"),
        ("长者", "  ", "name_en", "A tag's name is not empty"),
        ("长" * 33, "elderly", "name_zh", "at most 32 characters"),
        ("儿童", "kids", "name_zh", "'儿童' is already a name of the tag 儿童/children."),
        ("孩子", "CHILDREN", "name_en", "'CHILDREN' is already a name of the tag 儿童/children."),
        # A name in one language may not be another tag's name in the other either.
        ("children", "kids", "name_zh", "'children' is already a name of the tag 儿童/children."),
        ("孩子", "儿童", "name_en", "'儿童' is already a name of the tag 儿童/children."),
    ],
)
def test_bad_names_are_refused_and_nothing_is_written(
    services: Services, clock: FakeClock, name_zh: str, name_en: str, field: str, said: str
) -> None:
    with services.session_factory() as db, db.begin():
        add_tag(db, ADMIN, "儿童", "children", clock.now)
    with services.session_factory() as db:
        with pytest.raises(TagError) as refused:
            add_tag(db, ADMIN, name_zh, name_en, clock.now)
        db.rollback()
        assert said in str(refused.value) and refused.value.field == field
        assert [tag.key for tag in all_tags(db)] == ["children"] and len(audit(db)) == 1


def test_a_rename_keeps_its_own_names_and_refuses_anothers(db: Session, clock: FakeClock) -> None:
    children = add_tag(db, ADMIN, "儿童", "children", clock.now)
    women = add_tag(db, ADMIN, "女性", "women", clock.now)
    rename_tag(db, ADMIN, children, clock.now, name_en="Children")
    with pytest.raises(TagError, match="already a name of the tag 儿童/Children"):
        rename_tag(db, ADMIN, women, clock.now, name_zh="儿童")
    assert (women.name_zh, women.name_en) == ("女性", "women")


def test_a_new_key_is_made_from_the_english_name(db: Session, clock: FakeClock) -> None:
    assert add_tag(db, ADMIN, "新移民", "New residents", clock.now).key == "new-residents"
    assert add_tag(db, ADMIN, "长者", "elderly", clock.now).key == "elderly"
    renamed = find_tag(db, "elderly")
    rename_tag(db, ADMIN, renamed, clock.now, name_en="older people")
    # "elderly" is still the first tag's key, so the new tag's key takes a number.
    assert add_tag(db, ADMIN, "老年人", "Elderly!", clock.now).key == "elderly-2"


def test_an_inactive_tag_is_kept_by_its_events_but_not_given_anew(
    db: Session, clock: FakeClock
) -> None:
    elderly = add_tag(db, ADMIN, "长者", "elderly", clock.now)
    add_tag(db, ADMIN, "儿童", "children", clock.now)
    kept = tagged(db, clock, "elderly")
    set_tag_active(db, ADMIN, elderly, False, clock.now)
    assert [tag.key for tag in active_tags(db)] == ["children"]
    with pytest.raises(TagError, match="The tag 长者/elderly is not in use"):
        tagged(db, clock, "长者")
    update_event(db, kept.id, clock.now, SHANGHAI, tags=["elderly", "儿童"])
    assert sorted(kept.tags) == ["children", "elderly"]
    with pytest.raises(TagError, match="not in use"):
        set_tag_active(db, ADMIN, elderly, False, clock.now)


def test_a_merge_moves_the_events_and_frees_the_names(db: Session, clock: FakeClock) -> None:
    """The free-text days left 长者 and elderly as two tags: merged, they are one."""
    chinese = add_tag(db, ADMIN, "长者", "长者 (old)", clock.now)
    elderly = add_tag(db, ADMIN, "老人", "elderly", clock.now)
    only_chinese = tagged(db, clock, "长者").id
    both = tagged(db, clock, "长者", "elderly").id
    assert merge_tag(db, ADMIN, chinese, elderly, clock.now) == 1
    assert [tag.key for tag in all_tags(db)] == ["elderly"]
    for event_id in (only_chinese, both):
        assert db.get_one(Event, event_id).tags == ["elderly"]
    rename_tag(db, ADMIN, elderly, clock.now, name_zh="长者")
    assert find_tag(db, "长者") is elderly
    assert audit(db)[2][:2] == ("tag.merge", 1)
    assert audit(db)[2][3] == {"into": "elderly", "events": 1}
    with pytest.raises(TagError, match="cannot be merged into itself"):
        merge_tag(db, ADMIN, elderly, elderly, clock.now)
