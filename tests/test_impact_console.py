"""/console/impact: who may read it (and a partner only its own organisation's figures),
each table's CSV and XLSX download matching the table on the page, bad periods refused;
and the public /impact page, a 404 until an admin turns it on, with no personal data."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Callable

import openpyxl
import pytest
from sqlalchemy import select

from bot.services import Services
from models.audit import AuditEntry
from tests.console import Console, MakeAccount, alert
from tests.impact import Club

MARCH = "period=month&value=2026-03"
CELL = re.compile(r"<td[^>]*>([^<]*)</td>")


def section(page: str, key: str) -> str:
    found = re.search(rf'id="impact-{key}">(.*?)</section>', page, re.S)
    assert found is not None, key
    return found.group(1)


def cells(page: str, key: str) -> list[str]:
    return [html.unescape(cell) for cell in CELL.findall(section(page, key))]


def number(cell: object) -> object:
    """A cell as a number when it is one (XLSX keeps 6.0 as 6), else as shown."""
    if cell is None:
        return "—"
    try:
        return float(str(cell))
    except ValueError:
        return str(cell)


def signed_in(
    browser: Callable[[], Console], make_account: MakeAccount, role: str, **kw: str
) -> Console:
    make_account(f"{role}-1", role, **kw)
    person = browser()
    person.sign_in(f"{role}-1")
    return person


@pytest.mark.parametrize("role", ["admin", "staff", "foundation", "viewer"])
def test_the_club_s_readers_see_the_whole_club(
    role: str, browser: Callable[[], Console], make_account: MakeAccount, club: Club
) -> None:
    person = signed_in(browser, make_account, role)
    assert 'id="nav-impact"' in person.get("/console/").get_data(as_text=True)
    page = person.get(f"/console/impact/?{MARCH}").get_data(as_text=True)
    assert cells(page, "headline")[:2] == ["举办的活动", "2"]
    assert "群发触达人数" in section(page, "headline")
    assert page.count('class="chart"') == 7
    assert ("impact-public-switch" in page) == (role == "admin")


def test_a_partner_sees_its_own_organisation_only(
    browser: Callable[[], Console], make_account: MakeAccount, club: Club
) -> None:
    partner = signed_in(browser, make_account, "partner", partner="绿源")
    page = partner.get(f"/console/impact/?{MARCH}").get_data(as_text=True)
    figures = dict(zip(cells(page, "headline")[::2], cells(page, "headline")[1::2], strict=True))
    # 绿源 co-hosted no event and took the river need only; broadcasts are not its own.
    assert figures["举办的活动"] == "0"
    assert figures["提出的需求"] == "1"
    assert "群发触达人数" not in figures
    assert "本机构" in page
    assert "镇建设办" not in section(page, "partner_hours")
    assert partner.post("/console/impact/public", {"on": "1"}).status_code == 403


def test_each_table_downloads_as_csv_and_xlsx_matching_the_page(
    browser: Callable[[], Console], make_account: MakeAccount, club: Club
) -> None:
    staff = signed_in(browser, make_account, "staff")
    page = staff.get(f"/console/impact/?{MARCH}").get_data(as_text=True)
    for key in ("headline", "attendance", "needs_status", "partner_hours", "most_raised"):
        shown = [cell for cell in cells(page, key)]
        got = staff.get(f"/console/impact/{key}.csv?{MARCH}")
        assert got.status_code == 200
        assert got.headers["Content-Type"].startswith("text/csv")
        body = got.get_data()
        assert body.startswith("\ufeff".encode())
        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
        assert [cell or "—" for row in rows[1:] for cell in row] == shown, key
        sheet = openpyxl.load_workbook(
            io.BytesIO(staff.get(f"/console/impact/{key}.xlsx?{MARCH}").get_data())
        ).active
        assert sheet is not None
        values = [list(row) for row in sheet.iter_rows(values_only=True)]
        assert [str(c) for c in values[0]] == rows[0], key
        assert [number(cell) for row in values[1:] for cell in row] == [
            number(cell) for cell in shown
        ], key
    assert staff.get(f"/console/impact/secrets.csv?{MARCH}").status_code == 404
    assert staff.get(f"/console/impact/headline.pdf?{MARCH}").status_code == 404
    assert staff.get("/console/impact/headline.csv?period=month&value=March").status_code == 400


def test_a_bad_period_is_one_sentence_and_no_figures(
    browser: Callable[[], Console], make_account: MakeAccount, club: Club
) -> None:
    viewer = signed_in(browser, make_account, "viewer")
    refused = viewer.get("/console/impact/?period=custom&start=2026-03-09&end=2026-03-01")
    assert refused.status_code == 400
    assert "日期范围不对" in alert(refused)
    assert 'class="chart"' not in refused.get_data(as_text=True)


def test_the_public_page_is_off_until_an_admin_turns_it_on(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    club: Club,
    services: Services,
) -> None:
    anyone = browser()
    assert anyone.get("/impact").status_code == 404
    staff = signed_in(browser, make_account, "staff")
    assert staff.post("/console/impact/public", {"on": "1"}).status_code == 403
    admin = signed_in(browser, make_account, "admin")
    turned = admin.post("/console/impact/public", {"on": "1"})
    assert turned.status_code == 302
    page = anyone.get("/impact").get_data(as_text=True)
    assert "年度影响力" in page
    figures = re.findall(r'class="number">([^<]*)<', page)
    # The year so far (the clock is in April): the April event, and the February need
    # of a seventh resident, counted too.
    assert figures[:2] == ["3", "7"]
    for personal in ("o-r1", "路灯坏了", "社区花园", "镇建设办", "朝阳村", "N-0"):
        assert personal not in page
    assert "Headline figures only" in anyone.get("/impact?lang=en").get_data(as_text=True)
    admin.post("/console/impact/public", {"on": "0"})
    assert anyone.get("/impact").status_code == 404
    with services.session_factory() as db:
        entries = db.execute(select(AuditEntry).where(AuditEntry.object_type == "switch"))
        assert [entry.actor_name for entry in entries.scalars()] == ["admin-1", "admin-1"]
