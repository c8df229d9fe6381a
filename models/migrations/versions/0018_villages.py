"""villages: the villages (and groups) residents, needs and events name; the views say them

Revision ID: 0018_villages
Revises: 0017_more_vocabulary_checks
Create Date: 2026-12-02

A new table, ``village`` (a group is a row with a parent), and a nullable ``village_id``
on resident, need and event, with ``resident.village_asked_at``. needs_overview and
event_summary gain two columns at their end, ``village`` (the village's name, for a group
its village's) and ``village_group`` (the group's name, or empty): saved queries that name
the earlier columns, or read them by position, keep working. On PostgreSQL the views are
replaced in place (CREATE OR REPLACE VIEW only adds columns at the end); SQLite has no
such statement, and would trip over a view while it rebuilds a table it reads, so there
the views are dropped first and created again. Going down drops the columns and makes
the views as they were (0010_needs_overview_residents, 0003_events).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_villages"
down_revision: str | None = "0017_more_vocabulary_checks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOP_LEVEL = sa.text("parent_id IS NULL")

# The two new columns of each view, from its row's village_id (alias x).
VILLAGE_COLUMNS = """,
        COALESCE(vp.name, v.name) AS village,
        CASE WHEN vp.id IS NULL THEN NULL ELSE v.name END AS village_group"""
VILLAGE_JOINS = """
        LEFT JOIN village v ON v.id = {row}.village_id
        LEFT JOIN village vp ON vp.id = v.parent_id"""


def _needs_overview(dialect: str, create: str, villages: bool) -> str:
    """needs_overview as 0010_needs_overview_residents made it, with the village columns
    when ``villages``."""
    if dialect == "sqlite":
        ref = "printf('N-%06d', n.id)"
        to_ack = "(julianday(n.acknowledged_at) - julianday(n.created_at)) * 24"
        to_resolve = "(julianday(n.resolved_at) - julianday(n.created_at)) * 24"
    else:
        ref = "'N-' || CASE WHEN n.id < 1000000 THEN lpad(n.id::text, 6, '0') ELSE n.id::text END"
        to_ack = "date_part('epoch', n.acknowledged_at - n.created_at) / 3600"
        to_resolve = "date_part('epoch', n.resolved_at - n.created_at) / 3600"
    return f"""
        {create} needs_overview AS
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
            {to_resolve} AS hours_to_resolve{VILLAGE_COLUMNS if villages else ""}
        FROM need n
        LEFT JOIN partner p ON p.id = n.partner_id
        LEFT JOIN (
            SELECT m.duplicate_of_id AS duplicate_of_id,
                   COUNT(DISTINCT COALESCE(m.resident_id, -m.id)) AS duplicates
            FROM need m
            JOIN need o ON o.id = m.duplicate_of_id
            WHERE COALESCE(m.resident_id, -m.id) <> COALESCE(o.resident_id, -o.id)
            GROUP BY m.duplicate_of_id
        ) d ON d.duplicate_of_id = n.id{VILLAGE_JOINS.format(row="n") if villages else ""}
    """


def _event_summary(create: str, villages: bool) -> str:
    """event_summary as 0003_events made it, with the village columns when ``villages``."""
    return f"""
    {create} event_summary AS
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
        COALESCE(a.unique_residents, 0) AS unique_residents{VILLAGE_COLUMNS if villages else ""}
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
    ) a ON a.event_id = e.id{VILLAGE_JOINS.format(row="e") if villages else ""}
"""


def _make_views(villages: bool, create: str) -> None:
    dialect = op.get_bind().dialect.name
    op.execute(_needs_overview(dialect, create, villages))
    op.execute(_event_summary(create, villages))


def _drop_views() -> None:
    op.execute("DROP VIEW needs_overview")
    op.execute("DROP VIEW event_summary")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        _drop_views()
    op.create_table(
        "village",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["village.id"], name=op.f("fk_village_parent_id_village")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_village")),
        sa.UniqueConstraint("parent_id", "name", name=op.f("uq_village_parent_id_name")),
    )
    with op.batch_alter_table("village", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_village_parent_id"), ["parent_id"])
        batch_op.create_index(
            "uq_village_name_top_level",
            ["name"],
            unique=True,
            sqlite_where=TOP_LEVEL,
            postgresql_where=TOP_LEVEL,
        )
    with op.batch_alter_table("resident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("village_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("village_asked_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_resident_village_id"), ["village_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_resident_village_id_village"), "village", ["village_id"], ["id"]
        )
    with op.batch_alter_table("need", schema=None) as batch_op:
        batch_op.add_column(sa.Column("village_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_need_village_id_created_at", ["village_id", "created_at"])
        batch_op.create_foreign_key(
            batch_op.f("fk_need_village_id_village"), "village", ["village_id"], ["id"]
        )
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("village_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_event_village_id"), ["village_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_event_village_id_village"), "village", ["village_id"], ["id"]
        )
    _make_views(villages=True, create="CREATE VIEW" if sqlite else "CREATE OR REPLACE VIEW")


def downgrade() -> None:
    _drop_views()
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_event_village_id_village"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_event_village_id"))
        batch_op.drop_column("village_id")
    with op.batch_alter_table("need", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_need_village_id_village"), type_="foreignkey")
        batch_op.drop_index("ix_need_village_id_created_at")
        batch_op.drop_column("village_id")
    with op.batch_alter_table("resident", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_resident_village_id_village"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_resident_village_id"))
        batch_op.drop_column("village_asked_at")
        batch_op.drop_column("village_id")
    with op.batch_alter_table("village", schema=None) as batch_op:
        batch_op.drop_index("uq_village_name_top_level")
        batch_op.drop_index(batch_op.f("ix_village_parent_id"))
    op.drop_table("village")
    _make_views(villages=False, create="CREATE VIEW")
