"""Downloads of the console's lists, and the exports page.

Every list page carries XLSX and CSV links with its current filters
(:func:`export_url`); a list small enough downloads at once, a larger one is queued as a
job for the scheduler's process and the exports page shows it: its progress (refreshed
by htmx while a job runs) and, once done, its file until it expires. What an account may
export, and how much of it (a partner: its own organisation's rows), is decided by the
kind's query in models/exports, which the CLI's ``aixiang export`` runs too."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from bot.console.context import account, now, request_db, services
from models.exports.errors import ExportError
from models.exports.jobs import ExportStatus, account_export, account_exports
from models.exports.kinds import SPECS, ExportFormat, ExportKind
from scheduler.exports.runs import (
    Asked,
    Exporter,
    ExportSettings,
    export_now,
    file_name,
    is_large,
    prepare,
    queue_job,
)

blueprint = Blueprint("exports", __name__, url_prefix="/exports")

CONTENT_TYPES = {
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ExportFormat.CSV: "text/csv; charset=utf-8",
}
STATUS_TEXT_KEYS = {
    ExportStatus.QUEUED: "console_export_queued",
    ExportStatus.RUNNING: "console_export_running",
    ExportStatus.DONE: "console_export_done",
    ExportStatus.FAILED: "console_export_failed",
    ExportStatus.EXPIRED: "console_export_expired",
}
KIND_TEXT_KEYS = {
    ExportKind.NEEDS: "console_nav_needs",
    ExportKind.EVENTS: "console_nav_events",
    ExportKind.ROSTER: "console_export_kind_roster",
    ExportKind.ATTENDANCE: "console_export_kind_attendance",
    ExportKind.RESIDENTS: "console_nav_residents",
    ExportKind.INBOX: "console_nav_inbox",
    ExportKind.OUTBOX: "console_nav_outbox",
    ExportKind.AUDIT: "console_nav_audit",
}
# Seconds between two refreshes of the exports page while a job waits or runs.
REFRESH_S = 2


def export_url(kind: str, fmt: str, args: Mapping[str, str]) -> str:
    """A list's download link: the filters of its page's address that the kind takes
    (an empty one too: the needs queue's ``status=`` means every status)."""
    keys = SPECS[ExportKind(kind)].filter_keys
    kept: dict[str, Any] = {key: value for key, value in args.items() if key in keys}
    return url_for("console.exports.download", kind=kind, fmt=fmt, **kept)


def _settings() -> ExportSettings:
    return ExportSettings.of(services().config)


@blueprint.get("/<kind>.<fmt>")
def download(kind: str, fmt: str) -> ResponseReturnValue:
    """The list as a file now, or, when it is large, a job and the exports page."""
    if kind not in tuple(ExportKind) or fmt not in tuple(ExportFormat):
        abort(404)
    db = request_db()
    settings = _settings()
    exporter = Exporter.of(account())
    asked = Asked(kind, dict(request.args.items()), ExportFormat(fmt))
    try:
        query = prepare(db, exporter, asked, settings, now())
    except ExportError as exc:
        status = 403 if exc.key == "export_error_refused" else 400
        return render_template("console/error.html", message=exc.text(account().language)), status
    large, total = is_large(db, query, settings)
    if large:
        queue_job(db, account(), asked, total, now())
        db.commit()
        flash(gettext("console_export_queued_notice").format(count=total))
        return redirect(url_for("console.exports.index"))
    # A small export (at most exports.background_rows rows) is written to a temporary
    # file and sent from memory: its size is bounded by that setting.
    with tempfile.TemporaryFile() as out:
        export_now(db, exporter, asked, query, settings, out, now())
        db.commit()
        out.seek(0)
        body = out.read()
    name = file_name(kind, fmt, now().astimezone(settings.tz))
    return Response(
        body,
        content_type=CONTENT_TYPES[asked.fmt],
        headers={"Content-Disposition": f"attachment; filename={name}"},
    )


@blueprint.get("/")
def index() -> str:
    return render_template("console/exports.html", **_jobs())


@blueprint.get("/jobs")
def jobs() -> str:
    """The jobs table alone, which the page reloads while a job waits or runs."""
    return render_template("console/exports_jobs.html", **_jobs())


def _jobs() -> dict[str, object]:
    found = account_exports(request_db(), account().id)
    return {
        "jobs": found,
        "busy": any(job.status in (ExportStatus.QUEUED, ExportStatus.RUNNING) for job in found),
        "statuses": STATUS_TEXT_KEYS,
        "kinds": KIND_TEXT_KEYS,
        "refresh_s": REFRESH_S,
    }


@blueprint.get("/<int:job_id>/file")
def job_file(job_id: int) -> ResponseReturnValue:
    """A done job's file, for the account that asked for it only."""
    job = account_export(request_db(), account().id, job_id)
    if job is None or job.status != ExportStatus.DONE or not job.file_path:
        abort(404)
    path = Path(job.file_path)
    if not path.is_file():
        abort(404)
    fmt = ExportFormat(job.format)
    return send_file(
        path,
        mimetype=CONTENT_TYPES[fmt],
        as_attachment=True,
        download_name=file_name(job.kind, fmt, job.created_at.astimezone(_settings().tz)),
    )
