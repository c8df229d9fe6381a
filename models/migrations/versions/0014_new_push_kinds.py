"""outbox.kind may hold event_moved and deferred_reply

Revision ID: 0014_new_push_kinds
Revises: 0013_mass_intent
Create Date: 2026-12-02

Moving an event's time or place now tells everyone confirmed and waitlisted
(event_moved), and a message answered only with an acknowledgement while PostgreSQL was
down gets its real reply as a push (deferred_reply). The kinds are written out as they
are at this revision, as in 0012.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014_new_push_kinds"
down_revision: str | None = "0013_mass_intent"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = (
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
AFTER = (*BEFORE, "event_moved", "deferred_reply")


def _kinds(values: Sequence[str]) -> str:
    return f"kind IN ({', '.join(repr(value) for value in values)})"


def _replace_kind_check(values: Sequence[str]) -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_kind"), type_="check")
        batch_op.create_check_constraint("kind", _kinds(values))


def upgrade() -> None:
    _replace_kind_check(AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM outbox WHERE kind IN ('event_moved', 'deferred_reply')")
    _replace_kind_check(BEFORE)
