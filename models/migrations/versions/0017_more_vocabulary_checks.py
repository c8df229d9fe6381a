"""more vocabulary checks: broadcast.status, reminder.status and outbox.channel

Revision ID: 0017_more_vocabulary_checks
Revises: 0016_scheduler_fence
Create Date: 2026-12-08

Broadcast statuses, reminder decisions and delivery channels became StrEnums defined once
(models/broadcasts/records.py, models/reminders.py, models/push/vocabulary.py) with the
strings the code always wrote, so no row changes; the models build these CHECK
constraints from the enums. outbox.channel is empty until a row is delivered, and a
CHECK lets an empty value through.

The values are written out here, as they are at this revision, so that this migration
reads the same whatever the enums become.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017_more_vocabulary_checks"
down_revision: str | None = "0016_scheduler_fence"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> (column, allowed values), in the order the models declare them.
CHECKS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "broadcast": (("status", ("scheduled", "sent", "refused", "cancelled")),),
    "reminder": (("status", ("queued", "skipped")),),
    "outbox": (("channel", ("custom", "template", "subscribe", "reply", "mass")),),
}


def _one_of(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def upgrade() -> None:
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, values in checks:
                batch_op.create_check_constraint(
                    op.f(f"ck_{table}_{column}"), _one_of(column, values)
                )


def downgrade() -> None:
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, _ in checks:
                batch_op.drop_constraint(op.f(f"ck_{table}_{column}"), type_="check")
