"""Every export of personal data in the audit log: who took which list out, with which
filters, in which format, and how many rows, written in the transaction that finishes
the export (a file that failed to write leaves no entry)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from models.audit import Actor, AuditAction, AuditObject, record
from models.exports.kinds import SPECS, ExportKind


def audit_export(
    db: Session,
    actor: Actor,
    kind: ExportKind,
    filters: Mapping[str, str],
    fmt: str,
    rows: int,
    now: datetime,
    job_id: int | None = None,
) -> None:
    """The entry, if the kind holds personal data (flushed, not committed)."""
    if not SPECS[kind].personal:
        return
    record(
        db,
        actor,
        AuditAction.EXPORT_RUN,
        AuditObject.EXPORT,
        job_id,
        now,
        after={
            "kind": kind,
            "filters": json.dumps(dict(filters), ensure_ascii=False, sort_keys=True),
            "format": fmt,
            "rows": rows,
        },
    )
