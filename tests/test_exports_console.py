"""The console's exports: an XLSX export matches its list row for row under the same
filters, CSV starts with a byte-order mark and keeps formulas as text, headers follow
the account's language, a partner's export holds only its organisation's rows, the
residents' export is an admin's, every export of personal data is audited, and a large
export runs as a job of the scheduler's process: its progress shown, its file
downloaded by its owner only, and deleted when it expires."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from bot.app import create_app
from bot.webhook_services import WebhookServices
from bot.wechat.client import build_wechat_client
from models.accounts.queries import get_account
from models.audit import AuditAction, AuditEntry
from models.exports.jobs import ExportJob, ExportStatus, queue_export
from models.exports.kinds import ExportFormat, ExportKind
from models.needs.tables import NeedStatus
from scheduler.jobs import JobContext, run_exports
from tests.conftest import FakeClock
from tests.console import Console, MakeAccount
from tests.workbench import MakeNeed

ROWS = re.compile(r'<tr id="need-(N-\d+)"')
ACK = NeedStatus.ACKNOWLEDGED
FORMULA = '=HYPERLINK("http://evil.example")'
QUERIES = [
    "status=open",
    "status=open&sort=newest",
    "status=open&category=education",
    "status=",
    "status=open&q=路灯",
]


def signed_in(
    browser: Callable[[], Console], make_account: MakeAccount, login: str, role: str, **kw: str
) -> Console:
    make_account(login, role, **kw)
    person = browser()
    person.sign_in(login)
    return person


def xlsx_rows(body: bytes) -> list[list[object]]:
    book = openpyxl.load_workbook(io.BytesIO(body), read_only=True)
    assert book.active is not None
    rows = [list(row) for row in book.active.iter_rows(values_only=True)]
    book.close()
    return rows


def export_audits(services: WebhookServices) -> list[AuditEntry]:
    with services.session_factory() as db:
        return list(
            db.execute(
                select(AuditEntry).where(AuditEntry.action == AuditAction.EXPORT_RUN)
            ).scalars()
        )


@pytest.fixture
def needs(make_need: MakeNeed, partners: dict[str, int]) -> dict[str, str]:
    return {
        "lamp": make_need(
            "老街路灯坏了", days_old=4, partner=partners["镇建设办"], status=NeedStatus.ACKNOWLEDGED
        ),
        "books": make_need("图书室缺书", category="education", days_old=1, openid="o-b"),
        "river": make_need(
            '=HYPERLINK("http://evil.example")',
            category="environment",
            partner=partners["绿源"],
            status=NeedStatus.ACKNOWLEDGED,
        ),
        "done": make_need("修好了", status=NeedStatus.RESOLVED, openid="o-c"),
    }


@pytest.mark.parametrize(
    "query",
    [
        "status=open",
        "status=open&sort=newest",
        "status=open&category=education",
        "status=",
        "status=open&q=路灯",
    ],
)
def test_an_xlsx_export_matches_the_list_row_for_row(
    query: str,
    browser: Callable[[], Console],
    make_account: MakeAccount,
    needs: dict[str, str],
    services: WebhookServices,
) -> None:
    li = signed_in(browser, make_account, "li", "staff")
    listed = ROWS.findall(li.get(f"/console/needs/?{query}").get_data(as_text=True))
    page = li.get(f"/console/needs/?{query}").get_data(as_text=True)
    link = re.search(r'href="([^"]+)" id="export-needs-xlsx"', page)
    assert link is not None
    response = li.get(link.group(1).replace("&amp;", "&"))
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment; filename=needs-")
    rows = xlsx_rows(response.data)
    assert rows[0][:3] == ["编号", "类别", "状态"]
    assert [row[0] for row in rows[1:]] == listed
    assert len(export_audits(services)) == 1


def test_csv_has_a_bom_escapes_formulas_and_follows_the_account_s_language(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    needs: dict[str, str],
    services: WebhookServices,
    clock: FakeClock,
) -> None:
    ann = signed_in(browser, make_account, "ann", "staff", language="en")
    response = ann.get("/console/exports/needs.csv?status=open")
    assert response.status_code == 200
    assert response.data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][:4] == ["Ref", "Category", "Status", "Partner"]
    river = next(row for row in rows if row[0] == needs["river"])
    assert river[6] == '\'=HYPERLINK("http://evil.example")'
    assert river[2] == "acknowledged"  # the status name the residents read
    # Times in the configured zone (Asia/Shanghai, 8 hours ahead of the UTC clock).
    books = next(row for row in rows if row[0] == needs["books"])
    created = (clock.now - timedelta(days=1) + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")
    assert books[7] == created
    [entry] = export_audits(services)
    assert entry.actor_name == "ann"
    assert entry.after is not None
    assert entry.after["kind"] == "needs" and entry.after["rows"] == 3
    assert entry.after["format"] == "csv" and '"status": "open"' in entry.after["filters"]


def test_a_partner_exports_only_its_organisation_s_rows(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    needs: dict[str, str],
    partners: dict[str, int],
) -> None:
    jsb = signed_in(browser, make_account, "jsb", "partner", partner="镇建设办")
    rows = xlsx_rows(jsb.get("/console/exports/needs.xlsx?status=").data)
    assert [row[0] for row in rows[1:]] == [needs["lamp"]]
    # Asking for another organisation's needs by the filter is refused, not obeyed.
    other = jsb.get(f"/console/exports/needs.xlsx?status=&partner={partners['绿源']}")
    assert other.status_code == 400 and "partner" in other.get_data(as_text=True)
    # Lists a partner may not read are refused, not emptied.
    assert jsb.get("/console/exports/inbox.csv").status_code == 403
    assert jsb.get("/console/exports/audit.csv").status_code == 403


def test_the_residents_export_is_for_admins_only(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    needs: dict[str, str],
    services: WebhookServices,
) -> None:
    li = signed_in(browser, make_account, "li", "staff")
    assert 'id="export-residents-xlsx"' not in li.get("/console/residents/").get_data(as_text=True)
    refused = li.get("/console/exports/residents.xlsx")
    assert refused.status_code == 403
    assert "无权导出" in refused.get_data(as_text=True)
    root = signed_in(browser, make_account, "root", "admin")
    assert 'id="export-residents-xlsx"' in root.get("/console/residents/").get_data(as_text=True)
    rows = xlsx_rows(root.get("/console/exports/residents.xlsx").data)
    assert len(rows) == 1 + 3
    assert [entry.actor_name for entry in export_audits(services)] == ["root"]


def test_a_bad_filter_is_one_clear_message(
    browser: Callable[[], Console], make_account: MakeAccount, services: WebhookServices
) -> None:
    li = signed_in(browser, make_account, "li", "staff")
    response = li.get("/console/exports/needs.xlsx?colour=red")
    assert response.status_code == 400
    assert "colour" in response.get_data(as_text=True)
    assert li.get("/console/exports/roster.csv?event=x").status_code == 400
    assert li.get("/console/exports/nothing.csv").status_code == 404
    assert export_audits(services) == []


def test_every_list_page_carries_its_download_links(
    browser: Callable[[], Console], make_account: MakeAccount, needs: dict[str, str]
) -> None:
    root = signed_in(browser, make_account, "root", "admin")
    for path, kind in (
        ("/console/needs/?status=open&category=education", "needs"),
        ("/console/events/?show=past", "events"),
        ("/console/inbox/?tab=all", "inbox"),
        ("/console/outbox/", "outbox"),
        ("/console/audit/?action=account.add", "audit"),
        ("/console/residents/", "residents"),
    ):
        page = root.get(path).get_data(as_text=True)
        for fmt in ("xlsx", "csv"):
            link = re.search(rf'href="([^"]+)" id="export-{kind}-{fmt}"', page)
            assert link is not None, (kind, fmt)
            response = root.get(link.group(1).replace("&amp;", "&"))
            assert response.status_code == 200, (kind, fmt)
    page = root.get("/console/needs/?status=open&category=education").get_data(as_text=True)
    assert "/console/exports/needs.xlsx?status=open&amp;category=education" in page


def test_a_large_export_runs_as_a_job_to_done_then_expires(
    make_account: MakeAccount,
    needs: dict[str, str],
    services: WebhookServices,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    config = replace(
        services.config,
        exports=replace(services.config.exports, background_rows=2, dir=str(tmp_path)),
    )
    ours = replace(services, config=config)
    app = create_app(services=ours)
    make_account("li", "staff")
    make_account("wang", "staff")
    li, wang = Console(app.test_client()), Console(app.test_client())
    li.sign_in("li")
    wang.sign_in("wang")
    asked = li.get("/console/exports/needs.xlsx?status=")
    assert asked.status_code == 302 and asked.headers["Location"].endswith("/console/exports/")
    page = li.get("/console/exports/").get_data(as_text=True)
    assert 'data-status="queued"' in page and 'hx-trigger="every' in page
    assert export_audits(services) == []

    context = JobContext(ours, build_wechat_client(config, services.redis))
    assert run_exports(context) == "1 exports written"
    with services.session_factory() as db:
        job = db.execute(select(ExportJob)).scalar_one()
        assert (job.status, job.rows_written, job.total) == (ExportStatus.DONE, 4, 4)
        path = Path(job.file_path or "")
    assert path.parent == tmp_path and path.is_file()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    page = li.get("/console/exports/").get_data(as_text=True)
    assert 'data-status="done"' in page and "hx-trigger" not in page
    download = li.get(f"/console/exports/{job.id}/file")
    assert download.status_code == 200
    assert [row[0] for row in xlsx_rows(download.data)[1:]] == list(needs.values())
    download.close()
    # Another account's job is none of its business.
    assert wang.get(f"/console/exports/{job.id}/file").status_code == 404
    [entry] = export_audits(services)
    assert entry.actor_name == "li" and entry.object_id == job.id

    clock.advance(hours=config.exports.keep_hours + 1)
    assert run_exports(context) == ""
    assert not path.exists()
    assert li.get(f"/console/exports/{job.id}/file").status_code == 404
    assert 'data-status="expired"' in li.get("/console/exports/").get_data(as_text=True)


def test_a_job_whose_account_lost_the_right_fails_with_a_reason(
    make_account: MakeAccount,
    services: WebhookServices,
    tmp_path: Path,
) -> None:
    config = replace(services.config, exports=replace(services.config.exports, dir=str(tmp_path)))
    ours = replace(services, config=config)
    make_account("li", "staff")
    with services.session_factory() as db, db.begin():
        li = get_account(db, "li").id
        queue_export(db, li, ExportKind.AUDIT, {}, ExportFormat.CSV, 1, services.clock())
    assert (
        run_exports(JobContext(ours, build_wechat_client(config, services.redis)))
        == "1 exports written"
    )
    with services.session_factory() as db:
        job = db.execute(select(ExportJob)).scalar_one()
        assert job.status == ExportStatus.FAILED and "may not export" not in (job.error or "")
        assert "无权导出" in (job.error or "")
    assert list(tmp_path.iterdir()) == []


def test_a_job_of_a_disabled_account_is_not_written(
    make_account: MakeAccount, services: WebhookServices, tmp_path: Path
) -> None:
    config = replace(services.config, exports=replace(services.config.exports, dir=str(tmp_path)))
    ours = replace(services, config=config)
    make_account("li", "staff")
    with services.session_factory() as db, db.begin():
        li = get_account(db, "li")
        queue_export(db, li.id, ExportKind.NEEDS, {}, ExportFormat.CSV, 1, services.clock())
        li.active = False
    assert run_exports(JobContext(ours, build_wechat_client(config, services.redis)))
    with services.session_factory() as db:
        job = db.execute(select(ExportJob)).scalar_one()
        assert job.status == ExportStatus.FAILED and "已停用" in (job.error or "")
    assert list(tmp_path.iterdir()) == []
