"""scheduler_fence: the fencing token of the scheduler's current leader

Revision ID: 0016_scheduler_fence
Revises: 0015_accounts
Create Date: 2026-12-02

One row (id 1) holding the token of the latest scheduler to take the lead; each job's
transaction checks it first, so a leader that lost its lease writes nothing
(models/leadership.py). The row is made by the first leader, not here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_scheduler_fence"
down_revision: str | None = "0015_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scheduler_fence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("leader", sa.String(length=64), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduler_fence")),
    )


def downgrade() -> None:
    op.drop_table("scheduler_fence")
