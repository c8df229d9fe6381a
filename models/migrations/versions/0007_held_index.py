"""held index: which residents have pushes waiting for their next message

Revision ID: 0007_held_index
Revises: 0006_push_indexes
Create Date: 2026-11-21

The webhook asks, in the statement that records each message's resident, whether pushes
wait to ride on the reply. With only outbox(resident_id) to go on, that reads every push
the resident ever had; this partial index holds just the held ones, usually none.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_held_index"
down_revision: str | None = "0006_push_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HELD_ONLY = sa.text("status = 'held'")


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_held_resident_id",
            ["resident_id"],
            unique=False,
            sqlite_where=HELD_ONLY,
            postgresql_where=HELD_ONLY,
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_held_resident_id")
