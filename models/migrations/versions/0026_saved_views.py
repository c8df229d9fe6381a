"""saved_view: the needs queue's filters and sort an account saved under a name

Revision ID: 0026_saved_views
Revises: 0025_weekly_report
Create Date: 2026-12-02

One row per saved view, its filters as JSON in the queue address's own words
(models/needs/tables.py, SavedView); each account's names are unique. Deleting an
account is not a thing the console does (accounts are disabled), so the foreign key
needs no cascade.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026_saved_views"
down_revision: str | None = "0025_weekly_report"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "saved_view",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_saved_view_account_id_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_view")),
        sa.UniqueConstraint("account_id", "name", name=op.f("uq_saved_view_account_id_name")),
    )


def downgrade() -> None:
    op.drop_table("saved_view")
