"""inbox: conversations residents open by leaving a message for staff, and staff answers

Revision ID: 0019_inbox
Revises: 0018_villages
Create Date: 2026-12-02

Two new tables, and outbox.kind may hold staff_answer (a staff member's answer, pushed
to the resident). The CHECK values are written out as they are at this revision, so the
migration reads the same whatever the enums become; the revision can be renumbered (its
id and down_revision) when other migrations land before it, but the kinds BEFORE must
then include any kind those migrations added.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_inbox"
down_revision: str | None = "0018_villages"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS_BEFORE = (
    "reminder",
    "promotion",
    "event_cancelled",
    "event_moved",
    "need_status",
    "need_note",
    "need_assigned",
    "digest",
    "broadcast",
    "deferred_reply",
    "mass",
)
KINDS_AFTER = (*KINDS_BEFORE, "staff_answer")
OPEN_ONLY = sa.text("status = 'open'")


def _kinds(values: Sequence[str]) -> str:
    return f"kind IN ({', '.join(repr(value) for value in values)})"


def _replace_kind_check(values: Sequence[str]) -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_kind"), type_="check")
        batch_op.create_check_constraint("kind", _kinds(values))


def upgrade() -> None:
    op.create_table(
        "conversation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("assigned_account_id", sa.Integer(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=80), nullable=True),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_conversation_status")),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["resident.id"], name=op.f("fk_conversation_resident_id_resident")
        ),
        sa.ForeignKeyConstraint(
            ["assigned_account_id"],
            ["account.id"],
            name=op.f("fk_conversation_assigned_account_id_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation")),
    )
    op.create_index(op.f("ix_conversation_resident_id"), "conversation", ["resident_id"])
    op.create_index(
        op.f("ix_conversation_assigned_account_id"), "conversation", ["assigned_account_id"]
    )
    op.create_index(
        "ix_conversation_status_last_message_at", "conversation", ["status", "last_message_at"]
    )
    op.create_index(
        "uq_conversation_open_resident_id",
        "conversation",
        ["resident_id"],
        unique=True,
        sqlite_where=OPEN_ONLY,
        postgresql_where=OPEN_ONLY,
    )
    op.create_table(
        "conversation_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=16), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "author IN ('resident', 'staff')", name=op.f("ck_conversation_message_author")
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversation.id"],
            name=op.f("fk_conversation_message_conversation_id_conversation"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_conversation_message_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"], name=op.f("fk_conversation_message_outbox_id_outbox")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_message")),
    )
    op.create_index(
        "ix_conversation_message_conversation_id_id",
        "conversation_message",
        ["conversation_id", "id"],
    )
    _replace_kind_check(KINDS_AFTER)


def downgrade() -> None:
    op.drop_table("conversation_message")
    op.drop_table("conversation")
    op.execute("DELETE FROM outbox WHERE kind = 'staff_answer'")
    _replace_kind_check(KINDS_BEFORE)
