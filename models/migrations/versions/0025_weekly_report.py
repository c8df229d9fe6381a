"""account.weekly_report, and outbox.kind may hold weekly_report

Revision ID: 0025_weekly_report
Revises: 0024_need_demand
Create Date: 2026-12-02

The weekly report (models/reports/weekly.py) is pushed to the console accounts that ask
for it: off for every account until its owner turns it on, once their WeChat is linked.
The kinds are written out as they are at this revision (as in 0014 and 0019): if another
migration lands before this one and adds a kind, KINDS_BEFORE must include it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025_weekly_report"
down_revision: str | None = "0024_need_demand"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS_BEFORE = (
    "reminder",
    "promotion",
    "event_cancelled",
    "need_status",
    "need_note",
    "need_assigned",
    "digest",
    "broadcast",
    "mass",
    "event_moved",
    "deferred_reply",
    "staff_answer",
)
KINDS_AFTER = (*KINDS_BEFORE, "weekly_report")


def _kinds(values: Sequence[str]) -> str:
    return f"kind IN ({', '.join(repr(value) for value in values)})"


def _replace_kind_check(values: Sequence[str]) -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_kind"), type_="check")
        batch_op.create_check_constraint("kind", _kinds(values))


def upgrade() -> None:
    op.add_column(
        "account",
        sa.Column("weekly_report", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    _replace_kind_check(KINDS_AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM outbox WHERE kind = 'weekly_report'")
    _replace_kind_check(KINDS_BEFORE)
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_column("weekly_report")
