"""events: events, audience tags, co-hosting partners, sign-ups, attendance, event_summary

Revision ID: 0003_events
Revises: 0002_needs
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_events"
down_revision: str | None = "0002_needs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = sa.text("status != 'cancelled'")
WALK_IN = sa.text("walk_in")

# Counts are people (a sign-up's party size, one per walk-in); unique_residents counts
# the WeChat accounts that checked in. The same SQL runs on both databases.
EVENT_SUMMARY = """
    CREATE VIEW event_summary AS
    SELECT
        e.id AS event_id,
        e.title AS title,
        e.starts_at AS starts_at,
        e.capacity AS capacity,
        COALESCE(s.confirmed, 0) AS confirmed,
        COALESCE(s.waitlisted, 0) AS waitlisted,
        COALESCE(s.cancelled, 0) AS cancelled,
        COALESCE(a.attended, 0) AS attended,
        COALESCE(a.walk_ins, 0) AS walk_ins,
        ROUND(1.0 * COALESCE(a.attended, 0) / NULLIF(s.confirmed, 0), 3) AS attendance_rate,
        COALESCE(a.unique_residents, 0) AS unique_residents
    FROM event e
    LEFT JOIN (
        SELECT
            event_id,
            SUM(CASE WHEN status = 'confirmed' THEN party_size ELSE 0 END) AS confirmed,
            SUM(CASE WHEN status = 'waitlisted' THEN party_size ELSE 0 END) AS waitlisted,
            SUM(CASE WHEN status = 'cancelled' THEN party_size ELSE 0 END) AS cancelled
        FROM signup
        GROUP BY event_id
    ) s ON s.event_id = e.id
    LEFT JOIN (
        SELECT
            event_id,
            SUM(CASE WHEN walk_in THEN 0 ELSE party_size END) AS attended,
            SUM(CASE WHEN walk_in THEN party_size ELSE 0 END) AS walk_ins,
            COUNT(DISTINCT resident_id) AS unique_residents
        FROM attendance
        GROUP BY event_id
    ) a ON a.event_id = e.id
"""


def upgrade() -> None:
    op.create_table(
        "event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("signup_deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("max_party_size", sa.Integer(), nullable=False),
        sa.Column("contact_required", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.CheckConstraint("capacity >= 1", name=op.f("ck_event_capacity")),
        sa.CheckConstraint("max_party_size >= 1", name=op.f("ck_event_max_party_size")),
        sa.CheckConstraint(
            "status IN ('draft', 'published', 'cancelled', 'finished')",
            name=op.f("ck_event_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event")),
    )
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.create_index("ix_event_status_starts_at", ["status", "starts_at"])

    op.create_table(
        "event_tag",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_event_tag_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", "tag", name=op.f("pk_event_tag")),
    )
    with op.batch_alter_table("event_tag", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_tag_tag"), ["tag"])

    op.create_table(
        "event_partner",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_event_partner_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partner.id"], name=op.f("fk_event_partner_partner_id_partner")
        ),
        sa.PrimaryKeyConstraint("event_id", "partner_id", name=op.f("pk_event_partner")),
    )
    with op.batch_alter_table("event_partner", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_partner_partner_id"), ["partner_id"])

    op.create_table(
        "signup",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("party_size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("waitlist_position", sa.Integer(), nullable=True),
        sa.Column("checkin_code", sa.String(length=6), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("party_size >= 1", name=op.f("ck_signup_party_size")),
        sa.CheckConstraint(
            "status IN ('confirmed', 'waitlisted', 'cancelled')", name=op.f("ck_signup_status")
        ),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"], name=op.f("fk_signup_event_id_event")),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["resident.id"], name=op.f("fk_signup_resident_id_resident")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signup")),
        sa.UniqueConstraint("event_id", "checkin_code", name="uq_signup_event_id_checkin_code"),
    )
    with op.batch_alter_table("signup", schema=None) as batch_op:
        batch_op.create_index("ix_signup_event_id_status", ["event_id", "status", "party_size"])
        batch_op.create_index(batch_op.f("ix_signup_resident_id"), ["resident_id"])
        batch_op.create_index(
            "uq_signup_event_id_resident_id_live",
            ["event_id", "resident_id"],
            unique=True,
            sqlite_where=LIVE,
            postgresql_where=LIVE,
        )

    op.create_table(
        "attendance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("signup_id", sa.Integer(), nullable=True),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("walk_in", sa.Boolean(), nullable=False),
        sa.Column("party_size", sa.Integer(), nullable=False),
        sa.CheckConstraint("method IN ('qr', 'code', 'staff')", name=op.f("ck_attendance_method")),
        sa.ForeignKeyConstraint(
            ["event_id"], ["event.id"], name=op.f("fk_attendance_event_id_event")
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["resident.id"], name=op.f("fk_attendance_resident_id_resident")
        ),
        sa.ForeignKeyConstraint(
            ["signup_id"], ["signup.id"], name=op.f("fk_attendance_signup_id_signup")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendance")),
        sa.UniqueConstraint("event_id", "resident_id", name="uq_attendance_event_id_resident_id"),
    )
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attendance_resident_id"), ["resident_id"])
        batch_op.create_index(
            "ix_attendance_event_id_walk_in",
            ["event_id", "party_size"],
            sqlite_where=WALK_IN,
            postgresql_where=WALK_IN,
        )

    op.execute(EVENT_SUMMARY)


def downgrade() -> None:
    op.execute("DROP VIEW event_summary")
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.drop_index("ix_attendance_event_id_walk_in")
        batch_op.drop_index(batch_op.f("ix_attendance_resident_id"))
    op.drop_table("attendance")
    with op.batch_alter_table("signup", schema=None) as batch_op:
        batch_op.drop_index("uq_signup_event_id_resident_id_live")
        batch_op.drop_index(batch_op.f("ix_signup_resident_id"))
        batch_op.drop_index("ix_signup_event_id_status")
    op.drop_table("signup")
    with op.batch_alter_table("event_partner", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_partner_partner_id"))
    op.drop_table("event_partner")
    with op.batch_alter_table("event_tag", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_tag_tag"))
    op.drop_table("event_tag")
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index("ix_event_status_starts_at")
    op.drop_table("event")
