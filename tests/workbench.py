"""Needs made to measure for the workbench's tests: a resident's need, as old as asked,
in a status, assigned to a partner; and the organisations the tests share."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from bot.services import Services
from models.audit import Actor
from models.needs.submission import create_need
from models.needs.tables import NeedStatus
from models.needs.transitions import change_status
from models.partners import Partner, add_partner
from models.residents import get_or_create_resident
from tests.conftest import FakeClock

MakeNeed = Callable[..., str]


@pytest.fixture
def partners(services: Services, clock: FakeClock) -> dict[str, int]:
    """Two organisations: 镇建设办 (a government office) and 绿源 (an NGO)."""
    with services.session_factory() as db, db.begin():
        return {
            name: add_partner(db, Actor.os_user("test"), name=name, kind=kind, now=clock.now).id
            for name, kind in (("镇建设办", "government"), ("绿源", "ngo"))
        }


@pytest.fixture
def make_need(services: Services, clock: FakeClock) -> MakeNeed:
    """Adds a need ``days_old`` days before the clock's now; returns its ref."""

    def make(
        text: str,
        *,
        openid: str = "o-a",
        category: str = "infrastructure",
        days_old: float = 0,
        status: str = NeedStatus.SUBMITTED,
        partner: int | None = None,
        latitude: float | None = None,
        longitude: float | None = None,
        place: str | None = None,
    ) -> str:
        at = clock.now - timedelta(days=days_old)
        with services.session_factory() as db, db.begin():
            resident = get_or_create_resident(db, openid, at)
            resident.privacy_consent_at = at
            need = create_need(
                db,
                resident=resident,
                category=category,
                description=text,
                now=at,
                place=place,
                latitude=latitude,
                longitude=longitude,
            )
            chosen = db.get(Partner, partner) if partner is not None else None
            if status != NeedStatus.SUBMITTED or chosen is not None:
                if status not in (NeedStatus.SUBMITTED, NeedStatus.ACKNOWLEDGED):
                    change_status(db, need, NeedStatus.ACKNOWLEDGED, "t", None, False, at)
                change_status(db, need, status, "t", "因为", False, at, partner=chosen)
            return need.ref

    return make
