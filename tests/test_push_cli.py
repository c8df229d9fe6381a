"""The push processes and outbox tools from the command line, against the fake WeChat API."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from bot.services import Services
from bot.spool import Spool, SpooledDelivery
from bot.wechat.fake_api.server import FakeWeChatServer
from models.events.signups import sign_up
from models.events.staff import create_event
from models.push.outbox import OutboxMessage
from tests.cli import fail, fake_wechat_env, run
from tests.pushes import add_resident, outbox_row, queue, seen_resident


@pytest.fixture(autouse=True)
def wechat_env(staff: CliRunner, fake_wechat: FakeWeChatServer, tmp_path: Path) -> None:
    """The push commands talk to the fake WeChat API as the test account."""
    staff.env.update(
        {
            **fake_wechat_env(fake_wechat),
            "AIXIANG_PUSH_RATE_PER_S": "0",
            "AIXIANG_NEEDS_MEDIA_DIR": str(tmp_path / "media"),
        }
    )


# ISO 8601 in the configured zone (Shanghai), to the second.
ISO_LOCAL = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00"


def real_now() -> datetime:
    return datetime.now(UTC)


def test_worker_once_delivers_due_rows(
    staff: CliRunner, services: Services, fake_wechat: FakeWeChatServer
) -> None:
    add_resident(services, "o-cli", last_seen=real_now())
    row = queue(services, "o-cli", "cli-1")
    assert "1 outbox rows handled" in run(staff, "worker", "--once").output
    assert outbox_row(services, row).status == "sent"
    [call] = fake_wechat.calls("message/custom/send")
    assert call["body"]["touser"] == "o-cli"


def test_scheduler_once_runs_every_job_and_the_worker_delivers(
    staff: CliRunner, services: Services, fake_wechat: FakeWeChatServer
) -> None:
    now = real_now()
    with services.session_factory() as db, db.begin():
        event = create_event(
            db,
            title="垃圾分类日",
            starts_at=now + timedelta(hours=1),
            capacity=5,
            now=now - timedelta(days=2),
            publish=True,
        )
        resident = seen_resident(db, "o-remind", now, "message")
        sign_up(db, event.id, resident, 1, now - timedelta(days=2))
    result = run(staff, "scheduler", "--once")
    assert result.exit_code == 0
    run(staff, "worker", "--once")
    [call] = fake_wechat.calls("message/custom/send")
    assert "垃圾分类日" in call["body"]["text"]["content"]


def test_outbox_stats_show_and_retry(staff: CliRunner, services: Services) -> None:
    add_resident(services, "o-ops")
    first = queue(services, "o-ops", "ops-1")
    queue(services, "o-ops", "ops-2", kind="promotion")
    with services.session_factory() as db, db.begin():
        db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == first)
            .values(status="dead", last_error="errcode -1: system busy")
        )
    stats = json.loads(run(staff, "outbox", "stats", "--json").output)
    groups = {(g["kind"], g["status"]): g["count"] for g in stats["groups"]}
    assert groups == {("need_status", "dead"): 1, ("promotion", "pending"): 1}
    assert stats["oldest_pending_age_s"] is not None
    assert all(re.fullmatch(ISO_LOCAL, g["oldest"]) for g in stats["groups"])
    assert "need_status" in run(staff, "outbox", "stats").output
    shown = run(staff, "outbox", "show", str(first)).output
    assert "system busy" in shown and "dead" in shown
    [payload_line] = [line for line in shown.splitlines() if line.startswith("payload: ")]
    payload = json.loads(payload_line.removeprefix("payload: "))
    record = json.loads(run(staff, "outbox", "show", str(first), "--json").output)
    assert record["payload"] == payload and record["status"] == "dead"
    assert re.fullmatch(ISO_LOCAL, record["created_at"]) and record["sent_at"] is None
    assert "0 dead pushes" in run(staff, "outbox", "retry", "--dead", "--kind", "promotion").output
    assert "1 dead pushes" in run(staff, "outbox", "retry", "--dead").output
    assert outbox_row(services, first).status == "pending"
    assert outbox_row(services, first).attempts == 0


def test_outbox_stats_show_the_spool(staff: CliRunner, tmp_path: Path) -> None:
    """Deliveries kept while the database was down, whose replies are pushes to come."""
    staff.env["AIXIANG_BOT_SPOOL_DIR"] = str(tmp_path / "spool")
    arrived = datetime.now(UTC) - timedelta(seconds=90)
    spool = Spool(tmp_path / "spool")
    spool.append(SpooledDelivery("msg:1", {"FromUserName": "o-ops"}, arrived))
    stats = json.loads(run(staff, "outbox", "stats", "--json").output)
    assert stats["spool"]["depth"] == 1
    assert 90 <= stats["spool"]["oldest_age_s"] < 120
    assert "1 deliveries spooled on this host, the oldest waiting 1m " in (
        run(staff, "outbox", "stats").output
    )


def test_outbox_show_unknown_row(staff: CliRunner, services: Services) -> None:
    assert fail(staff, "outbox", "show", "999") == "error: no outbox row 999"


@pytest.mark.parametrize("ref", ["99999999999999999999", "9223372036854775808", "x1"])
def test_outbox_show_refuses_what_is_no_row_id_in_one_line(
    staff: CliRunner, services: Services, ref: str
) -> None:
    assert fail(staff, "outbox", "show", ref).startswith(f"error: {ref!r} is ")


def test_worker_without_credentials_is_one_line(staff: CliRunner, services: Services) -> None:
    staff.env["AIXIANG_WECHAT_APP_SECRET"] = ""
    assert "wechat.app_secret is required" in fail(staff, "worker", "--once")


def test_menu_push(staff: CliRunner, services: Services, fake_wechat: FakeWeChatServer) -> None:
    assert "pushed" in run(staff, "menu", "push").output
    [call] = fake_wechat.calls("menu/create")
    assert [b["name"] for b in call["body"]["button"]] == ["活动", "需求", "帮助"]


def test_menu_push_refused_by_wechat(
    staff: CliRunner, services: Services, fake_wechat: FakeWeChatServer
) -> None:
    fake_wechat.add_fault("menu/create", errcode=-1)
    assert "WeChat refused the menu" in fail(staff, "menu", "push")
