"""Staff triage from the terminal: aixiang needs ... and aixiang partners ..."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.cli.main import main
from bot.services import Services
from models import NeedHistory, OutboxMessage
from models.needs.erasure import erase_resident_data
from models.needs.submission import create_need
from models.residents import get_or_create_resident
from tests.cli import fail, run
from tests.conftest import FakeClock


@pytest.fixture
def seeded(services: Services, clock: FakeClock) -> None:
    """Three needs from two residents, one hour apart."""
    with services.session_factory() as db, db.begin():
        for openid, category, text in (
            ("o-a", "infrastructure", "老街路灯坏了，晚上很黑"),
            ("o-b", "education", "村小图书室缺少图书"),
            ("o-b", "infrastructure", "还是那盏路灯"),
        ):
            resident = get_or_create_resident(db, openid, clock.now)
            resident.privacy_consent_at = clock.now
            create_need(db, resident=resident, category=category, description=text, now=clock.now)
            clock.advance(hours=1)


def page(staff: CliRunner, *args: str) -> list[dict[str, Any]]:
    """The rows of one `needs list --json` page."""
    rows: list[dict[str, Any]] = json.loads(run(staff, "needs", "list", *args, "--json").output)[
        "rows"
    ]
    return rows


def counts(services: Services) -> tuple[int, int]:
    with services.session_factory() as db:
        return (
            db.execute(select(func.count()).select_from(NeedHistory)).scalar_one(),
            db.execute(select(func.count()).select_from(OutboxMessage)).scalar_one(),
        )


def test_list_filters_and_json(staff: CliRunner, seeded: None) -> None:
    table = run(staff, "needs", "list").output.splitlines()
    assert table[0].split() == [
        "ref",
        "category",
        "status",
        "partner",
        "demand",
        "created",
        "updated",
        "summary",
    ]
    assert [line.split()[0] for line in table[1:]] == ["N-000003", "N-000002", "N-000001"]
    rows = page(staff, "--category", "基础设施")
    assert [r["ref"] for r in rows] == ["N-000003", "N-000001"]
    assert rows[1]["created"] == "2026-05-01T10:00:00+08:00" and rows[1]["demand"] == 1
    assert rows[1]["summary"] == "老街路灯坏了，晚上很黑"
    since = page(staff, "--since", "2026-05-01T11:00")
    assert [r["ref"] for r in since] == ["N-000003", "N-000002"]
    limited = page(staff, "--limit", "1")
    assert [r["ref"] for r in limited] == ["N-000003"]
    assert run(staff, "needs", "list", "--status", "resolved").output.strip() == "(none)"


def test_update_walks_a_need_through_its_life(
    staff: CliRunner, seeded: None, services: Services
) -> None:
    assert (
        "partner 1: 镇建设办 (government)"
        in run(staff, "partners", "add", "镇建设办", "--kind", "government").output
    )
    added = staff.invoke(
        main,
        ["accounts", "add", "wangfang", "--role", "staff", "--password-stdin"],
        input="a long enough password\n",
    )
    assert added.exit_code == 0, added.output
    out = run(
        staff,
        "needs",
        "update",
        "N-000001",
        "--status",
        "acknowledged",
        "--assign",
        "镇建设办",
        "--note",
        "下周修",
        "--public",
        "--as",
        "wangfang",
    ).output
    assert out.strip() == (
        "N-000001: submitted -> acknowledged (assigned to 镇建设办, public note); "
        "the resident will be told"
    )
    out = run(staff, "needs", "update", "N-000001", "--note", "电工老李", "--as", "wangfang").output
    assert "internal note); nothing is sent to the resident" in out
    out = run(
        staff,
        "needs",
        "update",
        "3",
        "--duplicate-of",
        "N-000001",
        "--note",
        "同一盏灯",
    ).output
    assert "N-000003: submitted -> duplicate (duplicate of N-000001, internal note)" in out
    rows = page(staff, "--partner", "镇建设办")
    assert [(r["ref"], r["status"], r["demand"]) for r in rows] == [("N-000001", "acknowledged", 2)]
    by_demand = page(staff, "--by-demand")
    assert by_demand[0]["ref"] == "N-000001"

    shown = json.loads(run(staff, "needs", "show", "N-000001", "--json").output)
    assert shown["status"] == "acknowledged" and shown["partner"] == "镇建设办"
    assert shown["demand_count"] == 2 and shown["resident_openid"] == "o-a"
    assert shown["created"] == "2026-05-01T10:00:00+08:00" and shown["resolved"] is None
    assert shown["history"][0]["at"] == "2026-05-01T10:00:00+08:00"
    assert [(h["by"], h["to"], h["note"], h["public"]) for h in shown["history"]] == [
        ("resident", "submitted", None, False),
        ("wangfang", "acknowledged", "下周修", True),
        ("wangfang", "acknowledged", "电工老李", False),
    ]
    text = run(staff, "needs", "show", "N-000001").output
    assert "description: 老街路灯坏了，晚上很黑" in text and "电工老李" in text
    assert counts(services) == (6, 2)
    partners = json.loads(run(staff, "partners", "list", "--json").output)
    assert partners == [{"id": 1, "name": "镇建设办", "kind": "government", "contact_openid": None}]


def test_mistakes_are_one_line_exit_2_and_change_nothing(
    staff: CliRunner, seeded: None, services: Services
) -> None:
    before = counts(services)
    assert fail(staff, "needs", "show", "N-000999") == (
        "error: no need 'N-000999' (refs look like N-000123)"
    )
    assert "no need 'X-1'" in fail(staff, "needs", "update", "X-1", "--status", "resolved")
    assert "unknown status 'done'" in fail(staff, "needs", "update", "1", "--status", "done")
    assert "unknown status 'open'" in fail(staff, "needs", "list", "--status", "open")
    assert "unknown category 'roads'" in fail(staff, "needs", "list", "--category", "roads")
    assert "no partner 'Nobody'" in fail(staff, "needs", "list", "--partner", "Nobody")
    assert "no partner 'Nobody'" in fail(
        staff, "needs", "update", "1", "--status", "acknowledged", "--assign", "Nobody"
    )
    assert "is submitted; it can move to" in fail(
        staff, "needs", "update", "1", "--status", "resolved"
    )
    assert "needs a reason" in fail(staff, "needs", "update", "1", "--status", "declined")
    assert "no need 'N-000404'" in fail(
        staff,
        "needs",
        "update",
        "1",
        "--status",
        "duplicate",
        "--duplicate-of",
        "N-000404",
        "--note",
        "x",
    )
    assert "--since" in fail(staff, "needs", "list", "--since", "yesterday")
    assert "--limit" in fail(staff, "needs", "list", "--limit", "0")
    assert "unknown partner kind" in fail(staff, "partners", "add", "X", "--kind", "club")
    run(staff, "partners", "add", "X", "--kind", "ngo")
    assert "exists already" in fail(staff, "partners", "add", "X", "--kind", "ngo")
    assert counts(services) == before


def test_an_overlong_contact_openid_is_one_line_exit_2(staff: CliRunner) -> None:
    """The column holds OPENID_MAX characters; PostgreSQL refused more with a traceback."""
    line = fail(staff, "partners", "add", "环卫所", "--kind", "ngo", "--contact-openid", "o" * 100)
    assert line == "error: a contact openid is at most 64 characters (WeChat's are 28), got 100"
    assert json.loads(run(staff, "partners", "list", "--json").output) == []
    run(staff, "partners", "add", "环卫所", "--kind", "ngo", "--contact-openid", "o" * 64)
    [partner] = json.loads(run(staff, "partners", "list", "--json").output)
    assert partner["contact_openid"] == "o" * 64


def test_a_partner_id_too_big_for_the_column_is_unknown(staff: CliRunner, seeded: None) -> None:
    """PostgreSQL refused an id past its integer range with a traceback."""
    assert "no partner '99999999999'" in fail(staff, "needs", "list", "--partner", "99999999999")
    assert "no partner '99999999999'" in fail(
        staff, "needs", "update", "1", "--status", "acknowledged", "--assign", "99999999999"
    )


def test_json_keeps_the_whole_summary_and_the_table_cuts_it(
    staff: CliRunner, services: Services, clock: FakeClock
) -> None:
    words = "村口的那盏路灯已经坏了三个星期，晚上老人和孩子经过都看不清路，请尽快派人修理"
    with services.session_factory() as db, db.begin():
        resident = get_or_create_resident(db, "o-long", clock.now)
        resident.privacy_consent_at = clock.now
        create_need(
            db, resident=resident, category="infrastructure", description=words, now=clock.now
        )
    assert page(staff)[0]["summary"] == words
    table = run(staff, "needs", "list").output.splitlines()
    assert table[1].endswith(f"{words[:24]}…")


def test_list_pages_with_offset_and_says_how_many_more(staff: CliRunner, seeded: None) -> None:
    first = json.loads(run(staff, "needs", "list", "--limit", "2", "--json").output)
    assert first["total"] == 3 and first["offset"] == 0
    assert [r["ref"] for r in first["rows"]] == ["N-000003", "N-000002"]
    second = json.loads(
        run(staff, "needs", "list", "--limit", "2", "--offset", "2", "--json").output
    )
    assert (second["total"], second["offset"]) == (3, 2)
    assert [r["ref"] for r in second["rows"]] == ["N-000001"]
    table = run(staff, "needs", "list", "--limit", "2").output.splitlines()
    assert table[-1] == "… 1 more; --offset 2 for the next page"
    assert len(table) == 4
    last = run(staff, "needs", "list", "--limit", "2", "--offset", "2").output.splitlines()
    assert [line.split()[0] for line in last[1:]] == ["N-000001"]
    filtered = json.loads(
        run(staff, "needs", "list", "--category", "education", "--limit", "1", "--json").output
    )
    assert filtered["total"] == 1
    beyond = json.loads(run(staff, "needs", "list", "--offset", "9", "--json").output)
    assert beyond == {"rows": [], "total": 3, "offset": 9}


@pytest.mark.parametrize("value", ["-1", "x", "1.5", "", "99999999999999999999"])
def test_offset_must_be_a_whole_number(staff: CliRunner, seeded: None, value: str) -> None:
    assert fail(staff, "needs", "list", "--offset", value) == (
        f"error: --offset must be a whole number from 0 to 2147483647, got {value!r}"
    )


def test_an_erased_need_leaves_the_queue_and_no_notice_is_claimed(
    staff: CliRunner, seeded: None, services: Services, clock: FakeClock
) -> None:
    with services.session_factory() as db, db.begin():
        erase_resident_data(db, get_or_create_resident(db, "o-a", clock.now), clock.now)
    queue = json.loads(run(staff, "needs", "list", "--json").output)
    assert [r["ref"] for r in queue["rows"]] == ["N-000003", "N-000002"]
    assert queue["total"] == 2
    everything = json.loads(run(staff, "needs", "list", "--erased", "--json").output)
    assert [(r["ref"], r["summary"]) for r in everything["rows"]][-1] == ("N-000001", "(erased)")
    assert everything["total"] == 3
    out = run(staff, "needs", "update", "N-000001", "--status", "acknowledged").output
    assert out.strip() == "N-000001: submitted -> acknowledged; nothing is sent to the resident"
    assert counts(services) == (4, 0)
    out = run(staff, "needs", "update", "N-000002", "--status", "acknowledged").output
    assert out.strip() == "N-000002: submitted -> acknowledged; the resident will be told"
    assert counts(services) == (5, 1)
