"""event_summary gains status, at the end: saved queries can leave drafts and cancelled
events out

Revision ID: 0024_event_summary_status
Revises: 0017_more_vocabulary_checks
Create Date: 2026-12-02

The view's columns keep their names and order (saved queries depend on them); `status`
(the event's, as in `event.status`) is added after them. The SQL is the same on
PostgreSQL and SQLite, so the view is dropped and created again on both.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0024_event_summary_status"
down_revision: str | None = "0017_more_vocabulary_checks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = """
        e.id AS event_id,
        e.title AS title,
        e.starts_at AS starts_at,
        e.capacity AS capacity,
        COALESCE(s.confirmed, 0) AS confirmed,
        COALESCE(s.waitlisted, 0) AS waitlisted,
        COALESCE(s.cancelled, 0) AS cancelled,
        COALESCE(a.attended, 0) AS attended,
        COALESCE(a.walk_ins, 0) AS walk_ins,
        ROUND(1.0 * COALESCE(a.attended, 0) / NULLIF(s.confirmed, 0), 3) AS attendance_rate,
        COALESCE(a.unique_residents, 0) AS unique_residents"""

_SOURCES = """
    FROM event e
    LEFT JOIN (
        SELECT
            event_id,
            SUM(CASE WHEN status = 'confirmed' THEN party_size ELSE 0 END) AS confirmed,
            SUM(CASE WHEN status = 'waitlisted' THEN party_size ELSE 0 END) AS waitlisted,
            SUM(CASE WHEN status = 'cancelled' THEN party_size ELSE 0 END) AS cancelled
        FROM signup
        GROUP BY event_id
    ) s ON s.event_id = e.id
    LEFT JOIN (
        SELECT
            event_id,
            SUM(CASE WHEN walk_in THEN 0 ELSE party_size END) AS attended,
            SUM(CASE WHEN walk_in THEN party_size ELSE 0 END) AS walk_ins,
            COUNT(DISTINCT resident_id) AS unique_residents
        FROM attendance
        GROUP BY event_id
    ) a ON a.event_id = e.id
"""


def _view(extra_columns: str) -> str:
    return f"CREATE VIEW event_summary AS SELECT{_COLUMNS}{extra_columns}{_SOURCES}"


def upgrade() -> None:
    op.execute("DROP VIEW event_summary")
    op.execute(_view(",\n        e.status AS status"))


def downgrade() -> None:
    op.execute("DROP VIEW event_summary")
    op.execute(_view(""))
