"""The demo's seed data: a few published events, so a first look has something to sign up for."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.audit import Actor
from models.events.staff import create_event
from models.events.tables import Event
from models.tags.operations import add_tag
from models.tags.tables import Tag
from models.villages.operations import add_village
from models.villages.tables import Village

# The demo's villages, each with its groups: residents are asked theirs at their first
# need or sign-up, and the console's lists filter by them.
DEMO_VILLAGES: dict[str, tuple[str, ...]] = {
    "爱乡村": ("一组", "二组"),
    "溪口村": (),
    "矿山社区": (),
}

# The demo's tags, Chinese and English names; the events below are given them.
DEMO_TAGS = (("儿童", "children"), ("女性", "women"), ("志愿者", "volunteers"), ("长者", "elderly"))


def seed_demo_tags(db: Session, actor: Actor, now: datetime) -> None:
    """The demo's tags, added on a database that has none (an admin's own list, once
    made, is left alone)."""
    if db.execute(select(Tag.id).limit(1)).first() is not None:
        return
    for name_zh, name_en in DEMO_TAGS:
        add_tag(db, actor, name_zh, name_en, now)


def seed_demo_events(db: Session, now: datetime) -> list[Event]:
    """Four published events for the demo, created once (a title already there is kept),
    given the tags of :func:`seed_demo_tags`; the waste-sorting day has 2 places, so a
    third resident meets the waitlist."""
    day = (now + timedelta(days=3)).replace(hour=1, minute=30, second=0, microsecond=0)
    existing = set(db.execute(select(Event.title)).scalars())
    created: list[Event] = []

    def add(title: str, starts_at: datetime, hours: int, **fields: Any) -> None:
        if title not in existing:
            event = create_event(
                db,
                title=title,
                starts_at=starts_at,
                ends_at=starts_at + timedelta(hours=hours),
                now=now,
                publish=True,
                **fields,
            )
            created.append(event)

    add(
        "儿童生态营 Children's eco camp",
        day,
        3,
        description="带孩子认识社区里的植物和昆虫，亲手做一个昆虫旅馆。",
        place="社区花园",
        capacity=20,
        max_party_size=3,
        contact_required=True,
        tags=["children"],
    )
    add(
        "女性技能课堂 Women's skills class",
        day + timedelta(days=1, hours=5),
        2,
        description="手机摄影与短视频入门，由社区志愿者授课。",
        place="社区活动中心二楼",
        capacity=15,
        tags=["women"],
    )
    add(
        "校园美术志愿 School art volunteering",
        day + timedelta(days=2),
        4,
        description="和孩子们一起在小学围墙上画一幅社区壁画。",
        place="爱乡小学",
        capacity=8,
        signup_deadline=day + timedelta(days=1),
        tags=["volunteers", "children"],
    )
    add(
        "垃圾分类日 Waste-sorting day",
        day + timedelta(days=4),
        2,
        description="在小区门口设点，教邻居们正确分类，长者优先。",
        place="小区东门",
        capacity=2,
        tags=["elderly", "volunteers"],
    )
    return created


def seed_demo_villages(db: Session, actor: Actor, now: datetime) -> None:
    """The demo's villages, added on a database that has none (an admin's own list, once
    made, is left alone)."""
    if db.execute(select(Village.id).limit(1)).first() is not None:
        return
    for name, groups in DEMO_VILLAGES.items():
        village = add_village(db, actor, name, now)
        for group in groups:
            add_village(db, actor, group, now, within=village)
