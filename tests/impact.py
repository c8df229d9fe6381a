"""A club's March 2026 made to measure for the impact dashboard's tests: needs in
villages, assigned to partners, acknowledged, resolved, merged and left waiting; events
with sign-ups, check-ins and a walk-in; one broadcast; and a need and an event outside
the month, so a period that leaks shows it. The clock ends on 2026-04-10."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from bot.services import Services
from models.broadcasts.records import Broadcast, BroadcastStatus
from models.events.checkin import check_in
from models.events.signups import sign_up
from models.events.staff import cancel_event, create_event
from models.needs.submission import create_need
from models.needs.tables import Need, NeedStatus
from models.needs.transitions import change_status
from models.partners import Partner
from models.residents import Resident, get_or_create_resident
from models.villages.queries import all_villages
from tests.conftest import FakeClock
from tests.tags import given_tags
from tests.villages import add_villages

MARCH = datetime(2026, 2, 28, 16, 0, tzinfo=UTC)  # 2026-03-01 00:00 in Shanghai
AFTER = datetime(2026, 4, 10, 2, 0, tzinfo=UTC)
SAME = "同一盏灯"


@dataclass(frozen=True)
class Club:
    villages: dict[str, int]
    events: dict[str, int]


def day(days: float) -> datetime:
    """``days`` after the start of March (local)."""
    return MARCH + timedelta(days=days)


@pytest.fixture
def club(services: Services, clock: FakeClock, partners: dict[str, int]) -> Club:
    clock.set(day(-10))
    add_villages(services)
    with services.session_factory() as db, db.begin():
        villages = {entry.label: entry.id for entry in all_villages(db)}
        people = {
            name: get_or_create_resident(db, f"o-{name}", day(-20))
            for name in ("r1", "r2", "r3", "r4", "r5", "r6", "r7")
        }
        _needs(db, people, villages, partners)
        events = _events(db, people, villages)
        db.add(
            Broadcast(
                text_zh="春耕",
                text_en="Spring",
                audience="all",
                status=BroadcastStatus.SENT,
                scheduled_at=day(7),
                sent_at=day(7),
                recipients=42,
            )
        )
    clock.set(AFTER)
    return Club(villages, events)


def _need(
    db: Session, resident: Resident, category: str, at: datetime, village: int | None
) -> Need:
    resident.privacy_consent_at = at
    need = create_need(db, resident=resident, category=category, description="路灯坏了", now=at)
    need.village_id = village
    return need


def _needs(
    db: Session, people: dict[str, Resident], villages: dict[str, int], partners: dict[str, int]
) -> None:
    town = db.get(Partner, partners["镇建设办"])
    green = db.get(Partner, partners["绿源"])
    lamp = _need(db, people["r1"], "infrastructure", day(1.1), villages["朝阳村·一组"])
    change_status(db, lamp, NeedStatus.ACKNOWLEDGED, "t", None, False, day(2.1), partner=town)
    change_status(db, lamp, NeedStatus.RESOLVED, "t", None, False, day(5.6))
    same = _need(db, people["r2"], "infrastructure", day(3.2), villages["朝阳村"])
    change_status(db, same, NeedStatus.DUPLICATE, "t", SAME, False, day(3.5), duplicate_of=lamp)
    again = _need(db, people["r1"], "infrastructure", day(3.3), None)
    change_status(db, again, NeedStatus.DUPLICATE, "t", SAME, False, day(3.6), duplicate_of=lamp)
    _need(db, people["r3"], "education", day(8), villages["李家村"])
    _need(db, people["r1"], "environment", day(9.5), villages["李家村"])
    river = _need(db, people["r5"], "environment", day(14), villages["朝阳村·二组"])
    change_status(db, river, NeedStatus.ACKNOWLEDGED, "t", None, False, day(14.25), partner=green)
    recent = _need(db, people["r5"], "jobs", day(31.5), None)
    change_status(db, recent, NeedStatus.ACKNOWLEDGED, "t", None, False, day(32.5), partner=town)
    _need(db, people["r7"], "education", day(-5), villages["朝阳村"])


def _events(db: Session, people: dict[str, Resident], villages: dict[str, int]) -> dict[str, int]:
    def event(title: str, days: float, village: str, **fields: Any) -> int:
        made = create_event(
            db,
            title=title,
            starts_at=day(days),
            capacity=10,
            max_party_size=3,
            now=day(-10),
            publish=True,
            village_id=villages[village],
            **fields,
        )
        return made.id

    given_tags(db, ["garden", "elderly"], day(-10))
    garden = event("社区花园", 4.4, "朝阳村", tags=["garden"], partner_names=["镇建设办"])
    tea = event("敬老茶会", 19.4, "李家村", tags=["elderly"])
    april = event("四月植树", 35.4, "朝阳村", tags=["garden"])
    dropped = event("取消的活动", 12.4, "朝阳村", tags=["garden"])
    for name, event_id, party in (
        ("r1", garden, 2),
        ("r2", garden, 1),
        ("r3", garden, 1),
        ("r4", tea, 1),
        ("r5", tea, 1),
        ("r1", april, 1),
        ("r2", dropped, 1),
    ):
        sign_up(db, event_id, people[name], party, day(-9))
    cancel_event(db, dropped, "rain", day(-8), ZoneInfo("Asia/Shanghai"))
    for name, event_id, at in (
        ("r1", garden, 4.4),
        ("r2", garden, 4.41),
        ("r6", garden, 4.42),
        ("r4", tea, 19.4),
        ("r1", april, 35.4),
    ):
        check_in(db, event_id, people[name], "staff", day(at))
    return {"garden": garden, "tea": tea, "april": april, "dropped": dropped}
