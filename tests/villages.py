"""Villages made to measure for a test, as an admin would add them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.services import Services
from models.audit import Actor
from models.villages.operations import add_village

# The club's villages in most tests, listed to residents as
# 1. 朝阳村  2. 朝阳村·一组  3. 朝阳村·二组  4. 李家村
VILLAGES: Mapping[str, Sequence[str]] = {"朝阳村": ("一组", "二组"), "李家村": ()}


def add_villages(services: Services, villages: Mapping[str, Sequence[str]] = VILLAGES) -> None:
    """Add each village with its groups, in order."""
    now = services.clock()
    with services.session_factory() as db, db.begin():
        for name, groups in villages.items():
            village = add_village(db, Actor.os_user("test"), name, now)
            for group in groups:
                add_village(db, Actor.os_user("test"), group, now, within=village)
