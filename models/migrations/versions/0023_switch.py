"""switch: the switches an admin turns on and off in the console (the public impact page)

Revision ID: 0023_switch
Revises: 0022_event_summary_status
Create Date: 2026-12-02

One row per switch that was ever turned on; a missing row is off (models/impact/
publication.py). Each change is audited.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_switch"
down_revision: str | None = "0022_event_summary_status"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "switch",
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("on", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("key IN ('public_impact')", name=op.f("ck_switch_key")),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_switch")),
    )


def downgrade() -> None:
    op.drop_table("switch")
