"""outbox.status and outbox.kind hold only the push vocabularies' values

Revision ID: 0012_push_vocabulary
Revises: 0011_vocabulary_checks
Create Date: 2026-12-01

The statuses and kinds became StrEnums defined once (models/push/vocabulary.py) with the
same values, so no row changes; the model builds these CHECK constraints from the enums.
The values are written out here, as they were at this revision, so that this migration
reads the same whatever the enums become: a later kind comes with its own migration.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012_push_vocabulary"
down_revision: str | None = "0011_vocabulary_checks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = ("pending", "sending", "sent", "failed", "dead", "expired", "held", "skipped")
KINDS = (
    "reminder",
    "promotion",
    "event_cancelled",
    "need_status",
    "need_note",
    "need_assigned",
    "digest",
    "broadcast",
    "mass",
)


def _one_of(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_check_constraint("status", _one_of("status", STATUSES))
        batch_op.create_check_constraint("kind", _one_of("kind", KINDS))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_kind"), type_="check")
        batch_op.drop_constraint(op.f("ck_outbox_status"), type_="check")
