"""needs: partners, needs, their history and photos, and the needs_overview view

Revision ID: 0002_needs
Revises: 0001_foundation
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_needs"
down_revision: str | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUS_CHECK = (
    "status IN ('submitted', 'acknowledged', 'in_progress', 'resolved', 'declined', 'duplicate')"
)


def _overview_sql(dialect: str) -> str:
    """The staff view; only the ref format and hour differences differ between databases.

    The partner and demand joins are to unique keys, so PostgreSQL drops them from a
    query that uses neither column; the times come from the need's own columns, which
    change_status sets with the history row that records them.
    """
    if dialect == "sqlite":
        ref = "printf('N-%06d', n.id)"
        to_ack = "(julianday(n.acknowledged_at) - julianday(n.created_at)) * 24"
        to_resolve = "(julianday(n.resolved_at) - julianday(n.created_at)) * 24"
    else:
        ref = "'N-' || CASE WHEN n.id < 1000000 THEN lpad(n.id::text, 6, '0') ELSE n.id::text END"
        # date_part gives double precision; EXTRACT gives numeric, twice as slow to average.
        to_ack = "date_part('epoch', n.acknowledged_at - n.created_at) / 3600"
        to_resolve = "date_part('epoch', n.resolved_at - n.created_at) / 3600"
    return f"""
        CREATE VIEW needs_overview AS
        SELECT
            {ref} AS ref,
            n.category AS category,
            n.status AS status,
            p.name AS partner,
            CAST(1 + COALESCE(d.duplicates, 0) AS integer) AS demand_count,
            n.created_at AS created_at,
            n.acknowledged_at AS acknowledged_at,
            n.resolved_at AS resolved_at,
            {to_ack} AS hours_to_acknowledge,
            {to_resolve} AS hours_to_resolve
        FROM need n
        LEFT JOIN partner p ON p.id = n.partner_id
        LEFT JOIN (
            SELECT duplicate_of_id, COUNT(*) AS duplicates
            FROM need
            WHERE duplicate_of_id IS NOT NULL
            GROUP BY duplicate_of_id
        ) d ON d.duplicate_of_id = n.id
    """


def upgrade() -> None:
    op.create_table(
        "partner",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("contact_openid", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('government', 'enterprise', 'ngo', 'school', 'volunteer')",
            name=op.f("ck_partner_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner")),
        sa.UniqueConstraint("name", name=op.f("uq_partner_name")),
    )

    op.create_table(
        "need",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("duplicate_of_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.CheckConstraint(STATUS_CHECK, name=op.f("ck_need_status")),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["resident.id"], name=op.f("fk_need_resident_id_resident")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partner.id"], name=op.f("fk_need_partner_id_partner")
        ),
        sa.ForeignKeyConstraint(
            ["duplicate_of_id"], ["need.id"], name=op.f("fk_need_duplicate_of_id_need")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_need")),
    )
    with op.batch_alter_table("need", schema=None) as batch_op:
        batch_op.create_index("ix_need_resident_id_created_at", ["resident_id", "created_at"])
        batch_op.create_index("ix_need_status_created_at", ["status", "created_at"])
        batch_op.create_index("ix_need_category_created_at", ["category", "created_at"])
        batch_op.create_index("ix_need_partner_id_created_at", ["partner_id", "created_at"])
        batch_op.create_index("ix_need_created_at", ["created_at"])
        batch_op.create_index(batch_op.f("ix_need_duplicate_of_id"), ["duplicate_of_id"])

    op.create_table(
        "need_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("need_id", sa.Integer(), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("duplicate_of_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["need_id"], ["need.id"], name=op.f("fk_need_history_need_id_need")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partner.id"], name=op.f("fk_need_history_partner_id_partner")
        ),
        sa.ForeignKeyConstraint(
            ["duplicate_of_id"], ["need.id"], name=op.f("fk_need_history_duplicate_of_id_need")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_need_history")),
    )
    with op.batch_alter_table("need_history", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_need_history_need_id"), ["need_id"])

    op.create_table(
        "need_photo",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("need_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.String(length=128), nullable=True),
        sa.Column("pic_url", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("local_path", sa.String(length=300), nullable=True),
        sa.Column("content_type", sa.String(length=64), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'fetched', 'failed', 'erasing', 'erased')",
            name=op.f("ck_need_photo_status"),
        ),
        sa.ForeignKeyConstraint(["need_id"], ["need.id"], name=op.f("fk_need_photo_need_id_need")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_need_photo")),
        sa.UniqueConstraint("need_id", "position", name=op.f("uq_need_photo_need_id_position")),
    )
    with op.batch_alter_table("need_photo", schema=None) as batch_op:
        batch_op.create_index("ix_need_photo_status_next_attempt_at", ["status", "next_attempt_at"])

    op.execute(_overview_sql(op.get_bind().dialect.name))


def downgrade() -> None:
    op.execute("DROP VIEW needs_overview")
    with op.batch_alter_table("need_photo", schema=None) as batch_op:
        batch_op.drop_index("ix_need_photo_status_next_attempt_at")
    op.drop_table("need_photo")
    with op.batch_alter_table("need_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_need_history_need_id"))
    op.drop_table("need_history")
    with op.batch_alter_table("need", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_need_duplicate_of_id"))
        batch_op.drop_index("ix_need_created_at")
        batch_op.drop_index("ix_need_partner_id_created_at")
        batch_op.drop_index("ix_need_category_created_at")
        batch_op.drop_index("ix_need_status_created_at")
        batch_op.drop_index("ix_need_resident_id_created_at")
    op.drop_table("need")
    op.drop_table("partner")
