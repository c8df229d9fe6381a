"""vocabulary checks: every column that holds a vocabulary refuses other values

Revision ID: 0011_vocabulary_checks
Revises: 0010_needs_overview_residents
Create Date: 2026-11-23

The vocabularies are StrEnums now and each table builds its CHECK constraints from them
(models.base.check_one_of). Six columns already had a hand-written CHECK with exactly the
values and the text the enums generate (need.status, need_photo.status, partner.kind,
event.status, signup.status, attendance.method), so they stay as they are. Four columns
had none and get one here: resident.language, resident.last_interaction_kind, and
need_history.from_status and to_status. The chat and the CLI only ever wrote these
values, so existing rows pass.

The values are written out here, not read from the enums: a migration records the schema
as it was at this revision, whatever the enums become later.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011_vocabulary_checks"
down_revision: str | None = "0010_needs_overview_residents"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEED_STATUSES = "'submitted', 'acknowledged', 'in_progress', 'resolved', 'declined', 'duplicate'"

# table -> (column, allowed values as SQL literals), in the order the models declare them.
CHECKS = {
    "resident": (
        ("language", "'zh', 'en'"),
        ("last_interaction_kind", "'message', 'tap'"),
    ),
    "need_history": (
        ("from_status", NEED_STATUSES),
        ("to_status", NEED_STATUSES),
    ),
}


def upgrade() -> None:
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, values in checks:
                batch_op.create_check_constraint(
                    op.f(f"ck_{table}_{column}"), f"{column} IN ({values})"
                )


def downgrade() -> None:
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, _ in checks:
                batch_op.drop_constraint(op.f(f"ck_{table}_{column}"), type_="check")
