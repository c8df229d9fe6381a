"""A background export is claimed by one process at a time: a second claim finds nothing
while the first one's lease holds, and takes the job over once it has run out."""

from __future__ import annotations

from datetime import timedelta

from bot.services import Services
from models.accounts.queries import get_account
from models.exports.jobs import LEASE, ExportStatus, claim_export, queue_export
from models.exports.kinds import ExportFormat, ExportKind
from tests.conftest import FakeClock
from tests.console import MakeAccount


def test_a_job_is_claimed_once_until_its_lease_runs_out(
    services: Services, clock: FakeClock, make_account: MakeAccount
) -> None:
    make_account("li", "staff")
    with services.session_factory() as db, db.begin():
        li = get_account(db, "li").id
        job_id = queue_export(db, li, ExportKind.NEEDS, {}, ExportFormat.CSV, 9, clock.now).id
    with services.session_factory() as first, first.begin():
        claimed = claim_export(first, clock.now)
        assert claimed is not None and claimed.id == job_id
        assert claimed.status == ExportStatus.RUNNING
    with services.session_factory() as second, second.begin():
        assert claim_export(second, clock.now + LEASE - timedelta(seconds=1)) is None
    with services.session_factory() as second, second.begin():
        taken_over = claim_export(second, clock.now + LEASE + timedelta(seconds=1))
        assert taken_over is not None and taken_over.id == job_id
    with services.session_factory() as third, third.begin():
        assert claim_export(third, clock.now + LEASE + timedelta(seconds=2)) is None
