"""Response templates at the model level: what a template must hold, one title per
category, and every change audited in the same transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.config.sections import NeedCategory
from bot.services import Services
from models.audit import Actor, AuditAction, AuditEntry
from models.needs.errors import NeedError, NeedRefusal
from models.needs.responses import delete_template, response_templates, save_template
from tests.conftest import FakeClock

KNOWN = (
    NeedCategory("infrastructure", "基础设施", "Infrastructure"),
    NeedCategory("education", "教育", "Education"),
)
ADMIN = Actor.os_user("ops")


def save(services: Services, clock: FakeClock, **fields: str) -> None:
    values = {
        "category": "infrastructure",
        "title": "已派人",
        "text_zh": "已派人。",
        "text_en": "On the way.",
    }
    with services.session_factory() as db, db.begin():
        save_template(db, ADMIN, **{**values, **fields}, known=KNOWN, now=clock.now)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"category": "weather"}, "unknown category"),
        ({"title": "  "}, "title is 1 to 100"),
        ({"title": "x" * 101}, "title is 1 to 100"),
        ({"text_en": ""}, "both Chinese and English"),
        ({"text_zh": "长" * 1001}, "at most 1000"),
    ],
)
def test_a_template_needs_a_known_category_a_title_and_both_texts(
    services: Services, clock: FakeClock, fields: dict[str, str], message: str
) -> None:
    with pytest.raises(NeedError, match=message):
        save(services, clock, **fields)
    with services.session_factory() as db:
        assert response_templates(db) == []
        assert db.execute(select(AuditEntry)).first() is None


def test_one_title_per_category_and_each_change_is_audited(
    services: Services, clock: FakeClock
) -> None:
    save(services, clock)
    save(services, clock, category="education")  # the same title in another category
    with pytest.raises(NeedRefusal, match="Infrastructure has a template titled") as taken:
        save(services, clock)
    assert taken.value.text("zh") == "“基础设施”已有标题为“已派人”的模板", "by its name"
    with services.session_factory() as db, db.begin():
        education, lamps = response_templates(db)  # by category, then title
        save_template(
            db,
            ADMIN,
            category="infrastructure",
            title="已派人",
            text_zh="改过了。",
            text_en="Changed.",
            known=KNOWN,
            now=clock.now,
            template=lamps,
        )
        delete_template(db, ADMIN, education, clock.now)
    with services.session_factory() as db:
        assert [(t.category, t.text_zh) for t in response_templates(db)] == [
            ("infrastructure", "改过了。")
        ]
        entries = db.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars().all()
        assert [e.action for e in entries] == [AuditAction.TEMPLATE_SAVE] * 3 + [
            AuditAction.TEMPLATE_DELETE
        ]
        assert entries[2].before is not None and entries[2].before["text_zh"] == "已派人。"
