"""event_summary gains status, at the end: saved queries can leave drafts and cancelled
events out

Revision ID: 0022_event_summary_status
Revises: 0021_console_search_indexes
Create Date: 2026-12-02

The view's columns keep their names and order (saved queries depend on them), the
village columns 0018_villages added included; `status` (the event's, as in
`event.status`) comes after them. On PostgreSQL the view is replaced in place (CREATE OR
REPLACE VIEW only adds columns at the end); SQLite has no such statement, so there it is
dropped and created again. Going down drops it and makes it as 0018_villages left it.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0022_event_summary_status"
down_revision: str | None = "0021_console_search_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUS_COLUMN = """,
        e.status AS status"""


def _event_summary(create: str, status: bool) -> str:
    """event_summary as 0018_villages made it, with ``status`` at the end when asked."""
    extra = STATUS_COLUMN if status else ""
    return f"""
    {create} event_summary AS
    SELECT
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
        COALESCE(a.unique_residents, 0) AS unique_residents,
        COALESCE(vp.name, v.name) AS village,
        CASE WHEN vp.id IS NULL THEN NULL ELSE v.name END AS village_group{extra}
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
        LEFT JOIN village v ON v.id = e.village_id
        LEFT JOIN village vp ON vp.id = v.parent_id
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP VIEW event_summary")
        op.execute(_event_summary("CREATE VIEW", status=True))
    else:
        op.execute(_event_summary("CREATE OR REPLACE VIEW", status=True))


def downgrade() -> None:
    op.execute("DROP VIEW event_summary")
    op.execute(_event_summary("CREATE VIEW", status=False))
