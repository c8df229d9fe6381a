"""needs_overview counts residents: demand_count as the chat and the CLI count it

Revision ID: 0010_needs_overview_residents
Revises: 0009_event_key_text
Create Date: 2026-11-22

demand_count was 1 + the needs merged into a need, so one resident who raised the same
need twice counted twice, while the chat and `aixiang needs` count distinct residents
(models/needs.py demand_counts). The view now counts as they do: the need's own resident,
plus the other residents of the needs merged into it; an erased need (no resident any
more) counts as one resident of its own. Only the demand join changes; the columns and
their names stay.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010_needs_overview_residents"
down_revision: str | None = "0009_event_key_text"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Before: needs merged into each need (0002_needs).
_MERGED_NEEDS = """
        LEFT JOIN (
            SELECT duplicate_of_id, COUNT(*) AS duplicates
            FROM need
            WHERE duplicate_of_id IS NOT NULL
            GROUP BY duplicate_of_id
        ) d ON d.duplicate_of_id = n.id
"""

# After: residents besides the need's own who raised it in needs merged into it, each
# once; who raised a need is its resident, or for an erased need a stand-in of its own.
_OTHER_RESIDENTS = """
        LEFT JOIN (
            SELECT m.duplicate_of_id AS duplicate_of_id,
                   COUNT(DISTINCT COALESCE(m.resident_id, -m.id)) AS duplicates
            FROM need m
            JOIN need o ON o.id = m.duplicate_of_id
            WHERE COALESCE(m.resident_id, -m.id) <> COALESCE(o.resident_id, -o.id)
            GROUP BY m.duplicate_of_id
        ) d ON d.duplicate_of_id = n.id
"""


def _overview_sql(dialect: str, demand_join: str) -> str:
    """The staff view as 0002_needs made it, with ``demand_join`` giving ``d.duplicates``."""
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
        {demand_join}
    """


def upgrade() -> None:
    op.execute("DROP VIEW needs_overview")
    op.execute(_overview_sql(op.get_bind().dialect.name, _OTHER_RESIDENTS))


def downgrade() -> None:
    op.execute("DROP VIEW needs_overview")
    op.execute(_overview_sql(op.get_bind().dialect.name, _MERGED_NEEDS))
