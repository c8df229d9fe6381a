"""export_job: exports too large for a web request, run by the scheduler's process

Revision ID: 0030_export_jobs
Revises: 0029_dashboard_indexes
Create Date: 2026-12-02

One row per background export (models/exports/jobs.py): what was asked, its progress,
the file while it is kept. The CHECKs are built from the vocabularies as they are today.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030_export_jobs"
down_revision: str | None = "0029_dashboard_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = "'needs', 'events', 'roster', 'attendance', 'residents', 'inbox', 'outbox', 'audit'"


def upgrade() -> None:
    op.create_table(
        "export_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rows_written", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("file_path", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(f"kind IN ({KINDS})", name=op.f("ck_export_job_kind")),
        sa.CheckConstraint("format IN ('xlsx', 'csv')", name=op.f("ck_export_job_format")),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed', 'expired')",
            name=op.f("ck_export_job_status"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_export_job_account_id_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_job")),
    )
    op.create_index(op.f("ix_export_job_account_id"), "export_job", ["account_id"])
    op.create_index("ix_export_job_status", "export_job", ["status", "created_at"])


def downgrade() -> None:
    op.drop_table("export_job")
