"""An export run: at once for a list small enough for a web request or a command, else
queued as a job that the scheduler's process runs (``scheduler/jobs.py``, ``exports``),
with its progress on the console's exports page and its file deleted once it expires.
Either way the rows come from the kind's query in ``models/exports`` and every export of
personal data is audited in the transaction that finishes it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.config.sections import Config
from models.accounts.operations import actor_for
from models.accounts.tables import Account
from models.audit import Actor
from models.exports.auditing import audit_export
from models.exports.errors import ExportError
from models.exports.jobs import (
    ExportJob,
    claim_export,
    expired_exports,
    fail_export,
    finish_export,
    mark_expired,
    queue_export,
    record_progress,
)
from models.exports.kinds import SPECS, ExportFormat, ExportKind
from models.exports.queries import ExportContext, ExportScope, Rows, count_rows, export_query
from models.needs.queue import AckDeadlines
from scheduler.exports.writing import Reader, write_atomically, write_export
from texts.catalog import catalog

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportSettings:
    """The config's ``[exports]`` and what else an export is read with."""

    background_rows: int
    keep: timedelta
    batch_rows: int
    folder: Path
    deadlines: AckDeadlines
    categories: tuple[str, ...]
    tz: ZoneInfo

    @classmethod
    def of(cls, config: Config) -> ExportSettings:
        return cls(
            background_rows=config.exports.background_rows,
            keep=timedelta(hours=config.exports.keep_hours),
            batch_rows=config.exports.batch_rows,
            folder=Path(config.exports.dir),
            deadlines=config.ack_deadlines,
            categories=tuple(category.key for category in config.needs.categories),
            tz=config.bot.tz,
        )

    def context(self, now: datetime) -> ExportContext:
        return ExportContext(now, self.deadlines, self.categories)


@dataclass(frozen=True)
class Asked:
    """What a person asked for: a list, its filters (the words of its page's address),
    a format."""

    kind: str
    filters: dict[str, str]
    fmt: ExportFormat

    @property
    def export_kind(self) -> ExportKind:
        return ExportKind(self.kind)


@dataclass(frozen=True)
class Exporter:
    """Who exports: the author the audit log names, what they may read, and the language
    their file's headers and names are in."""

    actor: Actor
    scope: ExportScope
    language: str

    @classmethod
    def of(cls, account: Account) -> Exporter:
        return cls(actor_for(account), ExportScope.of(account), account.language)


def file_name(kind: str, fmt: str, now: datetime) -> str:
    """The name a download is offered under."""
    return f"{kind}-{now:%Y%m%d-%H%M}.{fmt}"


def prepare(
    db: Session, exporter: Exporter, asked: Asked, settings: ExportSettings, now: datetime
) -> Rows:
    """The rows' query, or an :class:`ExportError` for a list, filter or format refused."""
    return export_query(db, asked.kind, asked.filters, exporter.scope, settings.context(now))


def is_large(db: Session, query: Rows, settings: ExportSettings) -> tuple[bool, int]:
    """Whether the export is for a job rather than now, and how many rows it has."""
    total = count_rows(db, query)
    return total > settings.background_rows, total


def export_now(
    db: Session,
    exporter: Exporter,
    asked: Asked,
    query: Rows,
    settings: ExportSettings,
    out: IO[bytes],
    now: datetime,
) -> int:
    """The export written to ``out`` and audited (flushed; the caller commits once the
    file is whole); returns the rows written."""
    reader = Reader(exporter.language, settings.tz)
    spec = SPECS[asked.export_kind]
    count = write_export(db, query, spec, asked.fmt, reader, out, settings.batch_rows)
    audit_export(db, exporter.actor, spec.kind, asked.filters, asked.fmt, count, now)
    return count


def export_to_file(
    db: Session,
    exporter: Exporter,
    asked: Asked,
    settings: ExportSettings,
    path: Path,
    now: datetime,
) -> int:
    """The CLI's export: the whole file at ``path`` and its audit entry committed, or
    neither (the file is written beside it and renamed; a failed commit removes it)."""
    query = prepare(db, exporter, asked, settings, now)
    count = write_atomically(
        path, lambda out: export_now(db, exporter, asked, query, settings, out, now)
    )
    try:
        db.commit()
    except SQLAlchemyError:
        path.unlink(missing_ok=True)
        raise
    return count


def queue_job(db: Session, account: Account, asked: Asked, total: int, now: datetime) -> ExportJob:
    """A job for the scheduler's process (flushed; the caller commits)."""
    return queue_export(db, account.id, asked.export_kind, asked.filters, asked.fmt, total, now)


def job_path(settings: ExportSettings, job: ExportJob) -> Path:
    return settings.folder / f"export-{job.id}.{job.format}"


def run_export_jobs(
    sessions: sessionmaker[Session], settings: ExportSettings, clock: Callable[[], datetime]
) -> int:
    """Every job waiting, one after the other, then the expired files deleted; returns
    how many jobs ran (the scheduler's ``exports`` job)."""
    ran = 0
    while run_one_job(sessions, settings, clock):
        ran += 1
    delete_expired(sessions, clock())
    return ran


def run_one_job(
    sessions: sessionmaker[Session], settings: ExportSettings, clock: Callable[[], datetime]
) -> bool:
    """Claim the oldest waiting job and run it to done or failed; False if none waits."""
    with sessions() as db:
        job = claim_export(db, clock())
        db.commit()
        if job is None:
            return False
        account = db.get(Account, job.account_id)
        assert account is not None  # the foreign key keeps it
        if not account.active:
            # Disabled since it asked: what it may see is nothing now.
            fail_export(
                db, job, catalog().render("export_error_disabled", account.language), clock()
            )
            db.commit()
            return True
        exporter = Exporter.of(account)
        asked = Asked(job.kind, dict(job.filters), ExportFormat(job.format))
        path = job_path(settings, job)
        try:
            query = prepare(db, exporter, asked, settings, clock())
            settings.folder.mkdir(parents=True, exist_ok=True)
            count = write_atomically(
                path,
                lambda out: write_export(
                    db,
                    query,
                    SPECS[asked.export_kind],
                    asked.fmt,
                    Reader(exporter.language, settings.tz),
                    out,
                    settings.batch_rows,
                    lambda written: _progress(sessions, job.id, written, clock()),
                ),
            )
            now = clock()
            finish_export(db, job, count, str(path), now, settings.keep)
            audit_export(
                db, exporter.actor, asked.export_kind, asked.filters, asked.fmt, count, now, job.id
            )
            db.commit()
        except ExportError as exc:
            db.rollback()
            fail_export(db, job, exc.text(account.language), clock())
            db.commit()
        except (OSError, SQLAlchemyError) as exc:
            log.exception("export job %s failed", job.id)
            db.rollback()
            path.unlink(missing_ok=True)
            fail_export(db, job, type(exc).__name__, clock())
            db.commit()
    return True


def _progress(sessions: sessionmaker[Session], job_id: int, written: int, now: datetime) -> None:
    """Rows written so far and the lease renewed, in a session of its own: the job's own
    transaction holds the server-side cursor its rows come from."""
    with sessions() as db, db.begin():
        record_progress(db, job_id, written, now)


def delete_expired(sessions: sessionmaker[Session], now: datetime) -> int:
    """The files of jobs past their keep time deleted, the jobs marked expired."""
    with sessions() as db, db.begin():
        jobs = expired_exports(db, now)
        for job in jobs:
            if job.file_path:
                Path(job.file_path).unlink(missing_ok=True)
            mark_expired(job)
    return len(jobs)
