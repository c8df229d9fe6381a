"""/console/broadcasts: the latest broadcasts with their progress; a new one previewed
(the same figures as the CLI's dry run), scheduled and cancelled through the CLI's
operations, audited under the signed-in account; bad input refused with nothing
written; readers see the list only, partners nothing; every POST CSRF-checked. And the
village audience the console offers."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from bot.services import Services, broadcast_settings
from models.audit import Actor, AuditAction, AuditEntry
from models.base import utcnow
from models.broadcasts.audience import resolve_audience
from models.broadcasts.fanout import create_broadcast, fan_out
from models.broadcasts.messages import text_message
from models.broadcasts.records import Broadcast
from models.push.outbox import OutboxMessage
from models.residents import Resident
from models.villages.queries import find_village
from tests.broadcasts import residents
from tests.cli import run
from tests.conftest import FakeClock
from tests.console import Console, MakeAccount, alert
from tests.events import MakeEvent
from tests.pushes import add_resident
from tests.villages import add_villages


@pytest.fixture
def staffer(browser: Callable[[], Console], make_account: MakeAccount) -> Console:
    make_account("li", "staff")
    console = browser()
    console.sign_in("li")
    return console


def local_in(services: Services, hours: int) -> str:
    """A datetime-local value ``hours`` from the test clock, as the browser sends it."""
    moment = services.clock() + timedelta(hours=hours)
    return moment.astimezone(services.config.bot.tz).strftime("%Y-%m-%dT%H:%M")


def figures(page: str) -> dict[str, int]:
    return {name: int(n) for name, n in re.findall(r'id="preview-([a-z-]+)">(\d+)<', page)}


def stored(services: Services) -> list[tuple[str, str]]:
    with services.session_factory() as db:
        rows = db.execute(select(Broadcast).order_by(Broadcast.id)).scalars()
        return [(row.status, row.audience) for row in rows]


def test_the_preview_is_the_cli_dry_run(
    staffer: Console, services: Services, staff: CliRunner, clock: FakeClock
) -> None:
    # The command line runs on real time: the console's clock is set to it.
    clock.set(utcnow())
    residents(services, clock.now)
    page = staffer.post(
        "/console/broadcasts/preview", {"text": "停水通知", "audience": "all"}
    ).get_data(as_text=True)
    dry_run = json.loads(
        run(
            staff, "broadcast", "--text", "停水通知", "--audience", "all", "--dry-run", "--json"
        ).stdout
    )
    shown = figures(page)
    assert shown == {
        "reached": dry_run["recipients"],
        "unfollowed": dry_run["excluded_unsubscribed"],
        "opted-out": dry_run["excluded_opted_out"],
        "custom": dry_run["channels"]["custom"],
        "template": dry_run["channels"]["template"],
        "subscribe": dry_run["channels"]["subscribe"],
        "paused": dry_run["channels"]["paused"],
        "held": dry_run["channels"]["held"],
    }
    assert (shown["reached"], shown["unfollowed"], shown["opted-out"]) == (5, 1, 1)
    assert "停水通知\n（回复“退订”" in page
    assert stored(services) == []


@pytest.mark.parametrize(
    "form",
    [
        {"audience": "wrote-within", "days": "2"},
        {"audience": "category-interest", "category": "infrastructure"},
    ],
)
def test_every_audience_the_console_offers_previews_as_the_cli_does(
    form: dict[str, str], staffer: Console, services: Services, staff: CliRunner, clock: FakeClock
) -> None:
    clock.set(utcnow())
    residents(services, clock.now)
    page = staffer.post("/console/broadcasts/preview", {"text": "停水通知", **form})
    spec = f"{form['audience']}:{form.get('days') or form.get('category')}"
    dry_run = json.loads(
        run(
            staff, "broadcast", "--text", "停水通知", "--audience", spec, "--dry-run", "--json"
        ).stdout
    )
    assert figures(page.get_data(as_text=True))["reached"] == dry_run["recipients"]


def test_schedule_and_cancel_are_audited(staffer: Console, services: Services) -> None:
    add_resident(services, "o-1")
    at = local_in(services, 2)
    answer = staffer.post("/console/broadcasts/", {"text": "明天停水", "audience": "all", "at": at})
    assert answer.status_code == 302
    page = staffer.get("/console/broadcasts/").get_data(as_text=True)
    assert "群发 1 已安排。" in page and 'id="cancel-1"' in page
    assert stored(services) == [("scheduled", "all")]
    assert staffer.post("/console/broadcasts/1/cancel").status_code == 302
    assert stored(services) == [("cancelled", "all")]
    again = staffer.post("/console/broadcasts/1/cancel")
    assert again.status_code == 400 and "无法取消" in alert(again)
    with services.session_factory() as db:
        entries = db.execute(
            select(AuditEntry).where(AuditEntry.object_type == "broadcast").order_by(AuditEntry.id)
        ).scalars()
        assert [(e.action, e.actor_name, e.object_id) for e in entries] == [
            (AuditAction.BROADCAST_SCHEDULE, "li", 1),
            (AuditAction.BROADCAST_CANCEL, "li", 1),
        ]


def test_the_cli_cancel_is_the_same_operation(
    staffer: Console, services: Services, staff: CliRunner
) -> None:
    staffer.post(
        "/console/broadcasts/", {"text": "x", "audience": "all", "at": local_in(services, 48)}
    )
    run(staff, "broadcasts", "cancel", "1", "--as", "li")
    assert stored(services) == [("cancelled", "all")]
    with services.session_factory() as db:
        actions = db.execute(
            select(AuditEntry.action, AuditEntry.actor_name).where(
                AuditEntry.object_type == "broadcast"
            )
        ).all()
    assert sorted(actions) == [("broadcast.cancel", "li"), ("broadcast.schedule", "li")]


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"text": " ", "audience": "all", "at": "+2"}, "请填写内容"),
        ({"text": "x", "audience": "all", "at": ""}, "请选择发送时间"),
        ({"text": "x", "audience": "all", "at": "-2"}, "须在现在之后"),
        ({"text": "x", "audience": "all", "at": "tomorrow"}, "须在现在之后"),
        ({"text": "x", "audience": "tag", "tag": "", "at": "+2"}, "请填写标签或选择村"),
        ({"text": "x", "audience": "tag", "tag": "nobody", "at": "+2"}, "找不到对象 tag:nobody"),
        ({"text": "x", "audience": "village", "village": "99", "at": "+2"}, "找不到对象"),
        ({"text": "x", "audience": "wrote-within", "days": "", "at": "+2"}, "天数"),
        ({"text": "x", "audience": "wrote-within", "days": "0", "at": "+2"}, "1 到 366"),
        ({"text": "x", "audience": "signed-up", "audience_event": "999", "at": "+2"}, "找不到对象"),
        ({"text": "x", "audience": "category-interest", "category": "space", "at": "+2"}, "类别"),
    ],
)
def test_bad_input_is_one_clear_error_and_nothing_is_written(
    form: dict[str, str], message: str, staffer: Console, services: Services
) -> None:
    if form["at"] in ("+2", "-2"):
        form = {**form, "at": local_in(services, int(form["at"]))}
    answer = staffer.post("/console/broadcasts/", form)
    assert answer.status_code == 400
    assert message in alert(answer)
    assert stored(services) == []
    assert staffer.post("/console/broadcasts/", {**form, "audience": "nope"}).status_code == 400


def test_a_village_audience_reaches_its_groups_too(services: Services) -> None:
    add_villages(services)
    ids = {openid: add_resident(services, openid) for openid in ("o-v", "o-g", "o-else")}
    with services.session_factory() as db, db.begin():
        village = find_village(db, "朝阳村")
        places = {"o-v": village.id, "o-g": find_village(db, "朝阳村·一组").id}
        places["o-else"] = find_village(db, "李家村").id
        for openid, place in places.items():
            db.get_one(Resident, ids[openid]).village_id = place
    with services.session_factory() as db:
        found = resolve_audience(db, f"village:{village.id}", services.clock())
    assert sorted(r.openid for r in found.recipients) == ["o-g", "o-v"]


def test_progress_counts_the_broadcasts_rows(staffer: Console, services: Services) -> None:
    for openid in ("o-a", "o-b", "o-c"):
        add_resident(services, openid)
    now = services.clock()
    with services.session_factory() as db, db.begin():
        made = create_broadcast(
            db, Actor.os_user("test"), texts=text_message("通知"), audience="all", now=now
        )
        fan_out(db, made, now, broadcast_settings(services.config))
        first = db.execute(select(OutboxMessage.id).order_by(OutboxMessage.id)).scalars().first()
        db.execute(update(OutboxMessage).where(OutboxMessage.id == first).values(status="dead"))
    page = staffer.get("/console/broadcasts/").get_data(as_text=True)
    row = page[page.index('id="broadcast-1"') :]
    assert re.search(r'data-count="dead">[^<]* 1<', row)
    assert re.search(r'data-count="sent">[^<]* 0<', row)
    assert 'id="cancel-1"' not in row


@pytest.mark.parametrize("role", ["foundation", "viewer"])
def test_readers_see_the_list_only(
    role: str, browser: Callable[[], Console], make_account: MakeAccount, services: Services
) -> None:
    make_account("reader", role)
    reader = browser()
    reader.sign_in("reader")
    page = reader.get("/console/broadcasts/").get_data(as_text=True)
    assert 'id="nav-broadcasts"' in page and 'id="broadcast-form"' not in page
    form = {"text": "x", "audience": "all", "at": local_in(services, 2)}
    assert reader.post("/console/broadcasts/", form).status_code == 403
    assert reader.post("/console/broadcasts/preview", form).status_code == 403
    assert stored(services) == []


def test_partners_see_no_broadcasts(partner_console: Console) -> None:
    assert 'id="nav-broadcasts"' not in partner_console.get("/console/").get_data(as_text=True)
    assert partner_console.get("/console/broadcasts/").status_code == 403


def test_scheduling_without_the_csrf_token_is_refused(staffer: Console, services: Services) -> None:
    form = {"text": "x", "audience": "all", "at": local_in(services, 2)}
    assert staffer.client.post("/console/broadcasts/", data=form).status_code == 400
    assert stored(services) == []


def test_an_event_announcement_is_previewed_and_scheduled(
    staffer: Console, services: Services, make_event: MakeEvent
) -> None:
    add_resident(services, "o-1")
    event = make_event(title="端午包粽子")
    form = {"message": "event", "event": str(event), "audience": "all"}
    page = staffer.post("/console/broadcasts/preview", form).get_data(as_text=True)
    assert f'<option value="{event}" selected>' in page
    assert figures(page)["reached"] == 1 and "端午包粽子" in page[page.index('id="preview"') :]
    at = local_in(services, 2)
    assert staffer.post("/console/broadcasts/", {**form, "at": at}).status_code == 302
    with services.session_factory() as db:
        [made] = db.execute(select(Broadcast)).scalars()
        assert (made.event_id, made.mass, made.status) == (event, False, "scheduled")
        assert "端午包粽子" in made.text_zh


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"message": "event", "event": ""}, "event", "请选择要通知的活动。"),
        ({"message": "event", "event": "draft"}, "event", "这个活动不能通知"),
        ({"message": "text", "text": " "}, "text", "请填写内容"),
        ({"message": "text", "text": "x", "at": "tomorrow"}, "at", "须在现在之后"),
        ({"message": "text", "text": "x", "audience": "tag"}, "audience", "请填写标签或选择村"),
    ],
)
def test_a_mistake_is_shown_next_to_its_field(
    form: dict[str, str],
    field: str,
    message: str,
    staffer: Console,
    services: Services,
    make_event: MakeEvent,
) -> None:
    if form.get("event") == "draft":
        form = {**form, "event": str(make_event(publish=False))}
    filled = {"audience": "all", "at": local_in(services, 2), **form}
    for path in ("/console/broadcasts/", "/console/broadcasts/preview"):
        answer = staffer.post(path, filled)
        assert answer.status_code == 400
        page = answer.get_data(as_text=True)
        shown = re.search(rf'id="error-{field}">([^<]*)<', page)
        assert shown is not None and message in shown.group(1)
        assert page.count('role="alert"') == 1
    assert stored(services) == []


def test_a_mass_send_is_previewed_with_its_quota_and_scheduled(
    staffer: Console, services: Services, clock: FakeClock
) -> None:
    residents(services, clock.now)
    form = {"message": "text", "text": "停水通知", "audience": "all", "mass": "1"}
    page = staffer.post("/console/broadcasts/preview", form).get_data(as_text=True)
    shown = figures(page)
    # Five read Chinese: one openid list; nobody is left to a normal message.
    assert (shown["reached"], shown["mass"], shown["custom"], shown["held"]) == (5, 5, 0, 0)
    assert "本月每位关注者最多已收到 0 次群发，共 4 次" in page
    assert staffer.post("/console/broadcasts/", {**form, "at": local_in(services, 2)}).status_code
    with services.session_factory() as db:
        [made] = db.execute(select(Broadcast)).scalars()
        assert made.mass and made.status == "scheduled"


def test_a_mass_send_the_quota_refuses_is_shown_next_to_the_box(
    staffer: Console, services: Services, clock: FakeClock
) -> None:
    add_resident(services, "o-1")
    add_resident(services, "o-2")
    settings = broadcast_settings(services.config)
    # Both followers already had WeChat's four mass broadcasts this month.
    with services.session_factory() as db, db.begin():
        for _ in range(4):
            made = create_broadcast(
                db,
                Actor.os_user("test"),
                texts=text_message("通知"),
                audience="all",
                now=clock.now,
                mass=True,
            )
            fan_out(db, made, clock.now, settings)
    page = staffer.get("/console/broadcasts/").get_data(as_text=True)
    assert "本月每位关注者最多已收到 4 次群发，共 4 次；2 位已用完" in page
    form = {"message": "text", "text": "停水", "audience": "all", "mass": "1"}
    before = stored(services)
    for path in ("/console/broadcasts/", "/console/broadcasts/preview"):
        answer = staffer.post(path, {**form, "at": local_in(services, 3)})
        assert answer.status_code == 400
        shown = re.search(r'id="error-mass">([^<]*)<', answer.get_data(as_text=True))
        assert shown is not None
        assert shown.group(1) == (
            "微信群发配额不允许：有 2 位接收者本月已收到 4 次群发（服务号每位关注者每月的上限）；"
            "请不用群发接口发送，或缩小对象范围。"
        )
    assert stored(services) == before
