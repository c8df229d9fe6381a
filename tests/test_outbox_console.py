"""/console/outbox: counts by kind, status and channel that match the outbox, the oldest
pending push, dead letters paged with their errors, quota pauses; retrying and resuming
change the same rows as ``aixiang outbox retry`` / ``resume`` and are audited under the
signed-in account; staff and readers see it without buttons, partners not at all; every POST is
CSRF-checked."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
import redis
from click.testing import CliRunner
from sqlalchemy import func, select, update

from bot.services import Services
from bot.wechat.errors import Refusal
from models.audit import AuditAction, AuditEntry
from models.base import local_text
from models.push.outbox import OutboxMessage
from models.push.pauses import PAUSED_PREFIX
from scheduler.pauses import Pauses, quota_resets_at
from tests.cli import run
from tests.conftest import FakeClock
from tests.console import Console, MakeAccount
from tests.pushes import add_resident, queue

Row = tuple[str, int, str | None]


def set_rows(services: Services, ids: list[int], **values: object) -> None:
    with services.session_factory() as db, db.begin():
        db.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(**values))


def states(services: Services, ids: list[int]) -> list[Row]:
    """What retrying and resuming change: status, attempts, whether a lease is held."""
    with services.session_factory() as db:
        rows = db.execute(
            select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)
        ).scalars()
        return [(row.status, row.attempts, row.last_error) for row in rows]


def audited(services: Services, action: str) -> list[tuple[str, dict[str, object] | None]]:
    with services.session_factory() as db:
        entries = db.execute(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        ).scalars()
        return [(entry.actor_name, entry.after) for entry in entries]


@pytest.fixture
def operator(browser: Callable[[], Console], make_account: MakeAccount) -> Console:
    """An admin: repairing the outbox reaches every resident, so it is the service's
    operators' (Permission.RUN_SERVICE), as ``aixiang outbox`` is."""
    make_account("li", "admin")
    console = browser()
    console.sign_in("li")
    return console


def dead_rows(services: Services, prefix: str, count: int, kind: str = "need_status") -> list[int]:
    add_resident(services, f"o-{prefix}")
    ids = [queue(services, f"o-{prefix}", f"{prefix}-{n}", kind=kind) for n in range(count)]
    set_rows(services, ids, status="dead", attempts=5, last_error=f"errcode -1: {prefix} busy")
    return ids


def test_the_counts_match_the_outbox(operator: Console, services: Services) -> None:
    dead = dead_rows(services, "a", 2)
    add_resident(services, "o-b")
    sent = queue(services, "o-b", "b-1", kind="promotion")
    queue(services, "o-b", "b-2", kind="promotion")
    set_rows(services, [sent], status="sent", channel="template")
    set_rows(services, dead[:1], channel="custom")
    page = operator.get("/console/outbox/").get_data(as_text=True)
    shown = {
        (kind, status, channel): int(number)
        for kind, status, channel, number in re.findall(
            r'data-kind="([^"]*)" data-status="([^"]*)" data-channel="([^"]*)">.*?'
            r'class="count">(\d+)<',
            page,
            re.S,
        )
    }
    with services.session_factory() as db:
        grouped = db.execute(
            select(
                OutboxMessage.kind, OutboxMessage.status, OutboxMessage.channel, func.count()
            ).group_by(OutboxMessage.kind, OutboxMessage.status, OutboxMessage.channel)
        ).all()
    assert shown == {(k, s, c or ""): n for k, s, c, n in grouped}
    assert shown == {
        ("need_status", "dead", "custom"): 1,
        ("need_status", "dead", ""): 1,
        ("promotion", "pending", ""): 1,
        ("promotion", "sent", "template"): 1,
    }
    assert 'id="oldest-pending"' in page and "最早的待发送推送已等待 0 分钟" in page
    assert page.count("errcode -1: a busy") == 2


def test_the_oldest_pending_age(operator: Console, services: Services, clock: FakeClock) -> None:
    add_resident(services, "o-old")
    queue(services, "o-old", "old-1")
    clock.advance(minutes=90)
    assert "已等待 90 分钟" in operator.get("/console/outbox/").get_data(as_text=True)


def test_dead_letters_are_paged(
    operator: Console, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("models.push.overview.PAGE_SIZE", 2)
    ids = dead_rows(services, "p", 3)
    first = operator.get("/console/outbox/").get_data(as_text=True)
    second = operator.get("/console/outbox/?page=2").get_data(as_text=True)
    shown = [re.findall(r'data-row="(\d+)"', page) for page in (first, second)]
    assert shown == [[str(ids[2]), str(ids[1])], [str(ids[0])]]
    assert 'id="page-next"' in first and 'id="page-previous"' in second
    assert operator.get("/console/outbox/?page=x").status_code == 200


def test_retry_changes_the_same_rows_as_the_cli(
    operator: Console, services: Services, staff: CliRunner
) -> None:
    by_console = dead_rows(services, "c", 3)
    by_cli = dead_rows(services, "d", 3, kind="promotion")
    chosen = {"row": [str(by_console[0]), str(by_console[2])]}
    answer = operator.client.post(
        "/console/outbox/retry", data={"csrf_token": operator.csrf(), **chosen}
    )
    assert answer.status_code == 302
    assert "2 条失败推送已重新排队" in operator.get("/console/outbox/").get_data(as_text=True)
    assert [state[0] for state in states(services, by_console)] == ["pending", "dead", "pending"]
    operator.post("/console/outbox/retry", {"all": "1", "kind": "need_status"})
    assert [state[0] for state in states(services, by_cli)] == ["dead"] * 3
    run(staff, "outbox", "retry", "--dead", "--kind", "promotion")
    retried = [state[:2] for state in states(services, by_console)]
    assert retried == [state[:2] for state in states(services, by_cli)] == [("pending", 0)] * 3
    entries = audited(services, AuditAction.OUTBOX_RETRY)
    assert entries[:2] == [
        ("li", {"kind": None, "ids": f"{by_console[0]},{by_console[2]}", "retried": 2}),
        ("li", {"kind": "need_status", "ids": None, "retried": 1}),
    ]
    assert entries[2][1] == {"kind": "promotion", "ids": None, "retried": 3}


def test_resume_changes_the_same_rows_as_the_cli(
    operator: Console, services: Services, staff: CliRunner, clock: FakeClock
) -> None:
    clock.set(clock.now.replace(year=2020))
    add_resident(services, "o-r")
    waiting = [queue(services, "o-r", f"r-{n}") for n in range(2)]
    later = clock.now + timedelta(days=36500)
    pauses = Pauses(services.redis)

    def pause_and_wait() -> None:
        pauses.pause("need_status", "custom", Refusal.DAILY_QUOTA, "45009 quota", clock.now)
        set_rows(
            services,
            waiting,
            status="failed",
            next_attempt_at=later,
            last_error=f"{PAUSED_PREFIX}custom sends of need_status are paused",
        )

    pause_and_wait()
    page = operator.get("/console/outbox/").get_data(as_text=True)
    assert 'id="outbox-pauses"' in page and "45009 quota" in page
    assert 'class="resume"' in page
    # The probe is twenty minutes on; WeChat's quota resets at the next midnight in China.
    resets = quota_resets_at(Refusal.DAILY_QUOTA, clock.now, "service")
    assert f'class="resets">{local_text(resets, services.config.bot.tz)}<' in page
    stats = json.loads(run(staff, "outbox", "stats", "--json").stdout)
    assert datetime.fromisoformat(stats["paused"][0]["quota_resets"]) == resets
    assert operator.post("/console/outbox/resume", {"kind": "need_status"}).status_code == 302
    assert pauses.all() == []
    by_console = states_due(services, waiting)
    pause_and_wait()
    run(staff, "outbox", "resume", "--kind", "need_status")
    assert pauses.all() == []
    assert states_due(services, waiting) == by_console == [True, True]
    [(name, after), (_, cli_after)] = audited(services, AuditAction.OUTBOX_RESUME)
    assert name == "li" and after == {"kind": "need_status", "channels": "custom", "released": 2}
    assert cli_after == after


def states_due(services: Services, ids: list[int]) -> list[bool]:
    """Whether each row waiting behind the pause is due again."""
    with services.session_factory() as db:
        rows = db.execute(select(OutboxMessage).where(OutboxMessage.id.in_(ids))).scalars()
        return [row.next_attempt_at.year < 2100 for row in rows]


def test_bad_input_changes_nothing(operator: Console, services: Services) -> None:
    ids = dead_rows(services, "x", 1)
    assert operator.post("/console/outbox/retry", {"row": "nope"}).status_code == 400
    assert operator.post("/console/outbox/retry", {"all": "1", "kind": "nope"}).status_code == 400
    assert operator.post("/console/outbox/resume", {"kind": "nope"}).status_code == 400
    operator.post("/console/outbox/retry", {})
    assert "没有选择任何推送" in operator.get("/console/outbox/").get_data(as_text=True)
    assert states(services, ids)[0][0] == "dead"
    assert audited(services, AuditAction.OUTBOX_RETRY) == []


@pytest.mark.parametrize("role", ["staff", "foundation", "viewer"])
def test_readers_see_it_without_buttons_and_may_not_change(
    role: str, browser: Callable[[], Console], make_account: MakeAccount, services: Services
) -> None:
    ids = dead_rows(services, "v", 1)
    make_account("reader", role)
    reader = browser()
    reader.sign_in("reader")
    page = reader.get("/console/outbox/").get_data(as_text=True)
    assert 'id="nav-outbox"' in page and "errcode -1: v busy" in page
    assert 'id="retry-all"' not in page and 'name="row"' not in page
    assert reader.post("/console/outbox/retry", {"all": "1"}).status_code == 403
    assert reader.post("/console/outbox/resume", {"kind": "need_status"}).status_code == 403
    assert states(services, ids)[0][0] == "dead"


def test_partners_do_not_see_the_outbox(partner_console: Console) -> None:
    assert 'id="nav-outbox"' not in partner_console.get("/console/").get_data(as_text=True)
    assert partner_console.get("/console/outbox/").status_code == 403


def test_retry_without_the_csrf_token_is_refused(operator: Console, services: Services) -> None:
    ids = dead_rows(services, "f", 1)
    answer = operator.client.post("/console/outbox/retry", data={"all": "1"})
    assert answer.status_code == 400
    assert states(services, ids)[0][0] == "dead"


def test_resume_without_redis_changes_nothing(
    operator: Console, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(_pauses: Pauses, _kind: str) -> list[object]:
        raise redis.ConnectionError("refused")

    monkeypatch.setattr(Pauses, "resume", unreachable)
    answer = operator.post("/console/outbox/resume", {"kind": "need_status"})
    assert answer.status_code == 503
    assert "无法连接 Redis" in answer.get_data(as_text=True)
    assert audited(services, AuditAction.OUTBOX_RESUME) == []


def test_the_cli_names_the_account_it_acts_as(
    operator: Console, services: Services, staff: CliRunner
) -> None:
    ids = dead_rows(services, "g", 1)
    Pauses(services.redis).pause(
        "need_status", "custom", Refusal.DAILY_QUOTA, "45009 quota", services.clock()
    )
    run(staff, "outbox", "retry", "--dead", "--as", "li")
    run(staff, "outbox", "resume", "--kind", "need_status", "--as", "li")
    assert states(services, ids)[0][0] == "pending"
    assert [name for name, _ in audited(services, AuditAction.OUTBOX_RETRY)] == ["li"]
    assert [name for name, _ in audited(services, AuditAction.OUTBOX_RESUME)] == ["li"]
