"""Exports too large for a web request, run later as jobs: queued by the console, claimed
under a lease by the scheduler's ``exports`` job (so two processes never run one job, and
a job whose process died is taken up again once its lease ends), their progress written
as they go, and their files deleted once they expire.

The job row records what was asked (the account, the kind, its filters, the format); the
file is written by ``scheduler/exports/`` to the configured folder."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, check_one_of, rowcount
from models.exports.kinds import ExportFormat, ExportKind

ERROR_MAX = 500
# How long a claimed job is its claimant's: renewed with each batch of rows written.
LEASE = timedelta(minutes=5)
# How many of an account's jobs its exports page lists.
LISTED = 20


class ExportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    # Done, and its file deleted after the keep time.
    EXPIRED = "expired"


class ExportJob(Base):
    __tablename__ = "export_job"
    __table_args__ = (
        check_one_of("kind", ExportKind),
        check_one_of("format", ExportFormat),
        check_one_of("status", ExportStatus),
        Index("ix_export_job_status", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    filters: Mapped[dict[str, Any]] = mapped_column(JSON)
    format: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default=ExportStatus.QUEUED)
    rows_written: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    file_path: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, self.rows_written * 100 // self.total)


def queue_export(
    db: Session,
    account_id: int,
    kind: ExportKind,
    filters: dict[str, str],
    fmt: ExportFormat,
    total: int,
    now: datetime,
) -> ExportJob:
    """A job for the scheduler to run (flushed, not committed)."""
    job = ExportJob(
        account_id=account_id,
        kind=kind,
        filters=dict(filters),
        format=fmt,
        status=ExportStatus.QUEUED,
        rows_written=0,
        total=total,
        created_at=now,
    )
    db.add(job)
    db.flush()
    return job


def claim_export(db: Session, now: datetime) -> ExportJob | None:
    """The oldest job waiting (or whose claimant's lease ran out), now the caller's once
    it commits: the claim is a conditional UPDATE, so of two processes only one wins a
    job."""
    waiting = or_(
        ExportJob.status == ExportStatus.QUEUED,
        (ExportJob.status == ExportStatus.RUNNING) & (ExportJob.lease_until < now),
    )
    for job_id in db.execute(
        select(ExportJob.id).where(waiting).order_by(ExportJob.created_at, ExportJob.id).limit(5)
    ).scalars():
        claimed = rowcount(
            db.execute(
                update(ExportJob)
                .where(ExportJob.id == job_id, waiting)
                .values(status=ExportStatus.RUNNING, lease_until=now + LEASE, rows_written=0)
            )
        )
        if claimed == 1:
            return db.get(ExportJob, job_id)
    return None


def record_progress(db: Session, job_id: int, rows_written: int, now: datetime) -> None:
    """Rows written so far, for the exports page, and the lease renewed (not committed:
    the runner commits it in a session of its own, apart from the one reading the rows)."""
    db.execute(
        update(ExportJob)
        .where(ExportJob.id == job_id)
        .values(rows_written=rows_written, lease_until=now + LEASE)
    )


def finish_export(
    db: Session, job: ExportJob, rows_written: int, path: str, now: datetime, keep: timedelta
) -> None:
    """The job done: its file ready to download until ``keep`` has passed (not committed:
    the caller commits it with the export's audit entry)."""
    job.status = ExportStatus.DONE
    job.rows_written = rows_written
    job.total = max(job.total, rows_written)
    job.file_path = path
    job.finished_at = now
    job.expires_at = now + keep
    job.lease_until = None


def fail_export(db: Session, job: ExportJob, error: str, now: datetime) -> None:
    """The job failed, with one sentence why (not committed)."""
    job.status = ExportStatus.FAILED
    job.error = error[:ERROR_MAX]
    job.finished_at = now
    job.lease_until = None


def expired_exports(db: Session, now: datetime) -> Sequence[ExportJob]:
    """Done jobs past their keep time, whose files are to be deleted."""
    return (
        db.execute(
            select(ExportJob).where(
                ExportJob.status == ExportStatus.DONE, ExportJob.expires_at <= now
            )
        )
        .scalars()
        .all()
    )


def mark_expired(job: ExportJob) -> None:
    job.status = ExportStatus.EXPIRED
    job.file_path = None


def account_exports(db: Session, account_id: int) -> Sequence[ExportJob]:
    """The account's latest jobs, newest first, for its exports page."""
    return (
        db.execute(
            select(ExportJob)
            .where(ExportJob.account_id == account_id)
            .order_by(ExportJob.created_at.desc(), ExportJob.id.desc())
            .limit(LISTED)
        )
        .scalars()
        .all()
    )


def account_export(db: Session, account_id: int, job_id: int) -> ExportJob | None:
    """One of the account's jobs (another account's is none of its business)."""
    job = db.get(ExportJob, job_id)
    return job if job is not None and job.account_id == account_id else None
