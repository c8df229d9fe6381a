"""Each push kind's payload carries exactly the template values models/ declares for it,
config checks templates against that one declaration, and a missing place shows empty."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from bot import config
from bot.config import DEFAULT_NEED_CATEGORIES, PushTemplate
from models.broadcasts import broadcast_payload
from models.digest import DayEvents, DigestFacts, digest_payload
from models.events.notices import cancellation_payload, promotion_payload
from models.events.tables import Event, Signup
from models.inbound import deferred_reply_payload
from models.needs.notices import assigned_payload, status_push_payload
from models.needs.tables import Need, NeedHistory, NeedStatus
from models.outbox import PUSH_KIND_VALUES
from models.pushes import Broadcast
from models.reminders import reminder_payload
from scheduler.channels import Push, render_template_data
from tests.helpers import SHANGHAI

AT = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)


def event() -> Event:
    return Event(id=7, title="社区大扫除", starts_at=AT, place="活动室")


def signup() -> Signup:
    return Signup(id=3, status="confirmed", party_size=2, checkin_code="K7Q2")


def need() -> Need:
    return Need(id=12, category="infrastructure", description="路灯坏了", place="3号楼")


def history() -> NeedHistory:
    return NeedHistory(
        from_status="submitted",
        to_status=NeedStatus.ACKNOWLEDGED,
        note="明天修",
        public=True,
        created_at=AT,
    )


def due_reminder() -> SimpleNamespace:
    return SimpleNamespace(
        event_id=7,
        signup_id=3,
        title="社区大扫除",
        starts_at=AT,
        place="活动室",
        checkin_code="K7Q2",
    )


def digest_facts() -> DigestFacts:
    day = date(2026, 5, 1)
    return DigestFacts(
        day, [("infrastructure", 1)], 0, [], [], DayEvents(day, []), DayEvents(day, [])
    )


BUILDERS: dict[str, Callable[[], dict[str, Any]]] = {
    "reminder": lambda: reminder_payload(due_reminder(), SHANGHAI),
    "promotion": lambda: promotion_payload(event(), signup(), SHANGHAI),
    "event_cancelled": lambda: cancellation_payload(event(), signup(), "下雨", SHANGHAI),
    "need_status": lambda: status_push_payload(need(), need(), history(), None, None),
    "need_note": lambda: status_push_payload(need(), need(), history(), None, None),
    "need_assigned": lambda: assigned_payload(need(), "街道办", "请跟进", AT),
    "digest": lambda: digest_payload(digest_facts(), SHANGHAI, DEFAULT_NEED_CATEGORIES),
    "broadcast": lambda: broadcast_payload(
        Broadcast(id=5, event_id=None), {"zh": "你好", "en": "Hello"}
    ),
    "deferred_reply": lambda: deferred_reply_payload("报名成功"),
}


def test_every_declared_kind_has_a_payload_builder() -> None:
    assert set(BUILDERS) == set(PUSH_KIND_VALUES)


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_a_kind_s_payload_provides_exactly_its_declared_values(kind: str) -> None:
    payload = BUILDERS[kind]()
    assert set(payload["text"]) == {"zh", "en"}
    assert {"text", *payload["fields"]} == PUSH_KIND_VALUES[kind]


def test_config_checks_templates_against_the_models_declaration() -> None:
    assert config.PUSH_KIND_VALUES is PUSH_KIND_VALUES


@pytest.mark.parametrize("kind", ["reminder", "promotion", "need_assigned"])
def test_a_push_with_no_place_shows_none_in_its_template(kind: str) -> None:
    """An event or need without a place renders ``{place}`` empty, not as "None"."""
    place_of: dict[str, Callable[[], dict[str, Any]]] = {
        "reminder": lambda: reminder_payload(
            SimpleNamespace(**{**vars(due_reminder()), "place": None}), SHANGHAI
        ),
        "promotion": lambda: promotion_payload(
            Event(id=7, title="社区大扫除", starts_at=AT, place=None), signup(), SHANGHAI
        ),
        "need_assigned": lambda: assigned_payload(
            Need(id=12, category="infrastructure", description="路灯坏了"), "街道办", None, AT
        ),
    }
    payload = place_of[kind]()
    template = PushTemplate("TPL", (("keyword3", "地点：{place}"),))
    push = Push("o-1", kind, payload["text"]["zh"], payload["fields"])
    assert render_template_data(template, push) == {"keyword3": {"value": "地点："}}
    assert "None" not in payload["text"]["zh"] + payload["text"]["en"]
