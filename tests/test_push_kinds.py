"""Each push kind's payload carries exactly the template values models/ declares for it,
config checks templates against that one declaration, and a missing place shows empty."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bot.config import push as push_config
from bot.config.errors import ConfigError
from bot.config.loader import load_config
from bot.config.sections import DEFAULT_NEED_CATEGORIES, PushTemplate
from models.broadcasts.fanout import broadcast_payload
from models.broadcasts.records import Broadcast
from models.digest import DayEvents, DigestFacts, digest_payload
from models.events.notices import cancellation_payload, change_payload, promotion_payload
from models.events.tables import Event, Signup
from models.inbound import deferred_reply_payload
from models.inbox.notices import answer_payload
from models.needs.notices import assigned_payload, status_push_payload
from models.needs.tables import Need, NeedHistory, NeedStatus
from models.push.registry import KINDS, TEMPLATE_VALUES, PushKind
from models.push.stale_checks import STALE_CHECKS
from models.reminders import reminder_payload
from models.reports.week import Weekday, latest_week
from models.reports.weekly import WeeklyFigures, report_payload
from scheduler.channels import Push, render_template_fields
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
    "event_moved": lambda: change_payload(event(), signup(), AT, "村委会", SHANGHAI),
    "need_status": lambda: status_push_payload(need(), need(), history(), None, None),
    "need_note": lambda: status_push_payload(need(), need(), history(), None, None),
    "need_assigned": lambda: assigned_payload(need(), "街道办", "请跟进", AT),
    "digest": lambda: digest_payload(digest_facts(), SHANGHAI, DEFAULT_NEED_CATEGORIES),
    "broadcast": lambda: broadcast_payload(
        Broadcast(id=5, event_id=None), {"zh": "你好", "en": "Hello"}
    ),
    "deferred_reply": lambda: deferred_reply_payload("报名成功"),
    "staff_answer": lambda: answer_payload("明天去修", AT),
    "weekly_report": lambda: report_payload(
        WeeklyFigures(2, 30, 25, 22, 3, 5, 4, 1),
        latest_week(AT, SHANGHAI, Weekday.MONDAY, time(8, 30)),
        "https://aixiang.example.org/console/impact/",
        "en",
    ),
}


def test_every_declared_kind_has_a_payload_builder() -> None:
    assert set(BUILDERS) == set(TEMPLATE_VALUES)


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_a_kind_s_payload_provides_exactly_its_declared_values(kind: str) -> None:
    payload = BUILDERS[kind]()
    assert set(payload["text"]) == {"zh", "en"}
    assert {"text", *payload["fields"]} == KINDS[PushKind(kind)].fields


def test_config_checks_templates_against_the_models_declaration() -> None:
    assert push_config.TEMPLATE_VALUES is TEMPLATE_VALUES


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
    assert render_template_fields(template, push) == {"keyword3": "地点："}
    assert "None" not in payload["text"]["zh"] + payload["text"]["en"]


def test_every_kind_is_in_the_registry_with_its_lifetime() -> None:
    assert set(KINDS) == set(PushKind)
    for kind, spec in KINDS.items():
        assert spec.kind is kind
        assert spec.lifetime
        assert not spec.fields or "text" in spec.fields


def test_only_broadcasts_heed_the_opt_out_and_only_reminders_go_stale_by_themselves() -> None:
    assert {kind for kind, spec in KINDS.items() if spec.broadcast_opt_out} == {PushKind.BROADCAST}
    assert set(STALE_CHECKS) == {PushKind.REMINDER}


def test_config_refuses_a_template_for_a_kind_no_template_carries(tmp_path: Path) -> None:
    """Mass sends use no templates: the registry declares no fields for them."""
    path = tmp_path / "config.toml"
    path.write_text('[push.templates.mass]\ntemplate_id = "T"\nfields = { a = "{text}" }\n')
    with pytest.raises(ConfigError, match="no push kind 'mass'"):
        load_config(path, environ={})


@pytest.mark.parametrize("kind", sorted(TEMPLATE_VALUES))
def test_config_accepts_every_value_the_registry_declares(tmp_path: Path, kind: str) -> None:
    pattern = " ".join(f"{{{value}}}" for value in sorted(TEMPLATE_VALUES[kind]))
    path = tmp_path / "config.toml"
    path.write_text(f'[push.templates.{kind}]\ntemplate_id = "T"\nfields = {{ a = "{pattern}" }}\n')
    template = load_config(path, environ={}).push.templates[kind]
    assert template.fields == (("a", pattern),)
