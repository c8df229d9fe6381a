"""the impact dashboard's index: attendance by event with who walked in and how many came

Revision ID: 0029_dashboard_indexes
Revises: 0028_tags
Create Date: 2026-12-02

The dashboard sums each held event's attendance (party sizes, walk-ins apart). With only
the unique (event_id, resident_id) index, PostgreSQL read every check-in of the club to
sum a month's: 524,161 rows for 18,000 (bench/README.md, Dashboard). This index holds
what the sum reads, so a period's check-ins are an index-only scan of its events' entries.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0029_dashboard_indexes"
down_revision: str | None = "0028_tags"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_attendance_event_id_walk_in_party_size",
        "attendance",
        ["event_id", "walk_in", "party_size"],
    )


def downgrade() -> None:
    op.drop_index("ix_attendance_event_id_walk_in_party_size", table_name="attendance")
