"""attendance: walk-ins staff add by hand at the door, with the name (and phone) they give

Revision ID: 0027_walk_in_names
Revises: 0026_saved_views
Create Date: 2026-12-02

A walk-in added by hand has no WeChat identity, so ``resident_id`` may be empty for a
walk-in that carries a name (CHECK ``resident_or_named_walk_in``). Such a row counts in
``event_summary`` as every walk-in does (``walk_ins``, its party size) and not in
``unique_residents`` (COUNT DISTINCT leaves the empty id out): the view is unchanged.
Going down deletes the walk-ins added by hand, which the older schema cannot hold.

SQLite changes a column's NULL rule by copying the table, which it refuses while a view
reads it: there the views that read ``attendance`` are set aside as they stand (their SQL
from ``sqlite_master``) and made again after.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027_walk_in_names"
down_revision: str | None = "0026_saved_views"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _views_reading_attendance() -> list[tuple[str, str]]:
    """On SQLite, each view that reads ``attendance``: its name and its SQL."""
    if op.get_bind().dialect.name != "sqlite":
        return []
    rows = op.get_bind().execute(
        sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'view' AND sql LIKE :table"),
        {"table": "%attendance%"},
    )
    return [(name, sql) for name, sql in rows]


def _drop(views: list[tuple[str, str]]) -> None:
    for name, _ in views:
        op.execute(f"DROP VIEW {name}")


def _create(views: list[tuple[str, str]]) -> None:
    for _, sql in views:
        op.execute(sql)


def upgrade() -> None:
    views = _views_reading_attendance()
    _drop(views)
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.add_column(sa.Column("walk_in_name", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("walk_in_phone", sa.String(length=20), nullable=True))
        batch_op.alter_column("resident_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_check_constraint(
            "resident_or_named_walk_in",
            "resident_id IS NOT NULL OR (walk_in AND walk_in_name IS NOT NULL)",
        )
    _create(views)


def downgrade() -> None:
    op.execute("DELETE FROM attendance WHERE resident_id IS NULL")
    views = _views_reading_attendance()
    _drop(views)
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_attendance_resident_or_named_walk_in"), type_="check")
        batch_op.alter_column("resident_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("walk_in_phone")
        batch_op.drop_column("walk_in_name")
    _create(views)
