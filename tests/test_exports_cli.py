"""``aixiang export``: the same file as the console's download, kept to what ``--as`` may
see and audited the same way; a bad kind, filter or path is one line and exit 2, and
leaves no file behind."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

import openpyxl
from click.testing import CliRunner
from sqlalchemy import select

from bot.services import Services
from models.audit import AuditAction, AuditEntry
from models.events.checkin import check_in_by_code
from models.events.signups import sign_up
from models.needs.tables import NeedStatus
from models.residents import get_or_create_resident
from tests.cli import fail, run
from tests.conftest import FakeClock
from tests.console import MakeAccount
from tests.events import MakeEvent
from tests.workbench import MakeNeed


def audits(services: Services) -> list[AuditEntry]:
    with services.session_factory() as db:
        found = select(AuditEntry).where(AuditEntry.action == AuditAction.EXPORT_RUN)
        return list(db.execute(found).scalars())


def test_needs_as_xlsx_and_csv_for_an_account_and_its_organisation(
    staff: CliRunner,
    services: Services,
    make_need: MakeNeed,
    make_account: MakeAccount,
    partners: dict[str, int],
    tmp_path: Path,
) -> None:
    ours = make_need("路灯", partner=partners["镇建设办"], status=NeedStatus.ACKNOWLEDGED)
    make_need("垃圾", partner=partners["绿源"], status=NeedStatus.ACKNOWLEDGED)
    plain = make_need("图书", category="education")
    make_account("jsb", "partner", partner="镇建设办", language="en")
    files = tmp_path / "files"
    files.mkdir()
    out = files / "needs.xlsx"
    result = run(staff, "export", "needs", "status=", "--out", str(out), "--as", "jsb")
    assert result.stdout.strip() == f"1 rows written to {out}"
    book = openpyxl.load_workbook(out, read_only=True)
    assert book.active is not None
    rows = list(book.active.iter_rows(values_only=True))
    book.close()
    assert rows[0][:2] == ("Ref", "Category") and [row[0] for row in rows[1:]] == [ours]

    out = files / "education.csv"
    run(staff, "export", "needs", "category=education", "--format", "csv", "--out", str(out))
    assert out.read_bytes().startswith("\ufeff".encode())
    with out.open(encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][0] == "编号" and [row[0] for row in rows[1:]] == [plain]
    by_account, by_os_user = audits(services)
    assert (by_account.actor_name, by_account.actor_kind) == ("jsb", "account")
    assert by_os_user.actor_kind == "os_user"
    assert sorted(p.name for p in files.iterdir()) == ["education.csv", "needs.xlsx"]


def test_roster_and_attendance_of_an_event(
    staff: CliRunner,
    services: Services,
    make_event: MakeEvent,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    event_id = make_event(starts_at=clock.now + timedelta(minutes=10))
    with services.session_factory() as db, db.begin():
        first = get_or_create_resident(db, "o-1", clock.now)
        first.name = "=张三"
        signup = sign_up(db, event_id, first, 1, clock.now)
        sign_up(db, event_id, get_or_create_resident(db, "o-2", clock.now), 1, clock.now)
        code = signup.signup.checkin_code
    with services.session_factory() as db, db.begin():
        check_in_by_code(db, event_id, code, clock.now)
    out = tmp_path / "roster.csv"
    run(staff, "export", "roster", f"event={event_id}", "--format", "csv", "--out", str(out))
    with out.open(encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    assert len(rows) == 3 and rows[1][0] == "'=张三"
    run(staff, "export", "attendance", f"event={event_id}", "--format", "csv", "--out", str(out))
    with out.open(encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    assert len(rows) == 2 and rows[1][0] == "'=张三" and rows[1][4] == "否"


def test_bad_input_is_one_line_and_leaves_no_file(
    staff: CliRunner,
    services: Services,
    make_account: MakeAccount,
    tmp_path: Path,
) -> None:
    files = tmp_path / "files"
    files.mkdir()
    out = files / "out.csv"
    assert "no list named parcels" in fail(staff, "export", "parcels", "--out", str(out))
    assert "no filter colour" in fail(staff, "export", "needs", "colour=red", "--out", str(out))
    assert "KEY=VALUE" in fail(staff, "export", "needs", "red", "--out", str(out))
    assert "does not take" in fail(staff, "export", "needs", "status=lost", "--out", str(out))
    assert "must be a number" in fail(staff, "export", "roster", "event=x", "--out", str(out))
    assert "does not exist" in fail(staff, "export", "roster", "event=9", "--out", str(out))
    assert "does not exist" in fail(staff, "export", "needs", "--out", str(files / "no" / "f"))
    assert "is a folder" in fail(staff, "export", "needs", "--out", str(files))
    make_account("li", "staff")
    assert "may not export" in fail(staff, "export", "residents", "--out", str(out), "--as", "li")
    assert list(files.iterdir()) == []
    assert audits(services) == []
