"""need.demand: how many residents raised a need, kept on it, and the index the queue's
sort by demand reads

Revision ID: 0024_need_demand
Revises: 0023_switch
Create Date: 2026-12-02

The console queue sorted by demand counted, before its first row, the other residents of
every need others were merged into and sorted all open needs by that: 118-173 ms of
PostgreSQL CPU at 200,000 needs (bench/README.md, Console). The count now lives on the
need (models/needs/demand.py keeps it in the transaction that links needs) and is
backfilled here from the links: 1 for the need's own resident, plus each other resident
of the needs merged into it, counted once (an erased need, with no resident, counts as
one of its own).

The index leads with demand, not status: the queue's usual filter is the three open
statuses together, and PostgreSQL 15 cannot read three ranges of a (status, demand)
index in one order, so it would sort every open need again. Read in demand order, the
page stops after about 50 / 0.4 entries (two needs in five are open).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_need_demand"
down_revision: str | None = "0023_switch"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL = """
UPDATE need SET demand = 1 + (
    SELECT count(DISTINCT coalesce(merged.resident_id, -merged.id))
    FROM need AS merged
    WHERE merged.duplicate_of_id = need.id
      AND coalesce(merged.resident_id, -merged.id) <> coalesce(need.resident_id, -need.id)
)
WHERE id IN (SELECT duplicate_of_id FROM need WHERE duplicate_of_id IS NOT NULL)
"""


def upgrade() -> None:
    op.add_column(
        "need", sa.Column("demand", sa.Integer(), server_default=sa.text("1"), nullable=False)
    )
    op.execute(BACKFILL)
    op.create_index(
        "ix_need_unerased_demand",
        "need",
        [sa.column("demand").desc(), "created_at", "id"],
        postgresql_where=sa.text("erased_at IS NULL"),
        sqlite_where=sa.text("erased_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_need_unerased_demand", table_name="need")
    op.drop_column("need", "demand")
