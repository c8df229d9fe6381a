"""console indexes: trigrams of need descriptions, the queue's counts, outbox key prefixes

Revision ID: 0021_console_search_indexes
Revises: 0020_response_templates
Create Date: 2026-12-02

Measured by bench/console.py over 200,000 needs and 600,000 outbox rows (bench/README.md,
Console):

- The console's text search over needs (``description ILIKE '%words%'``) read the whole
  table. PostgreSQL's own full-text parser does not segment Chinese (a run of Chinese
  characters up to a punctuation mark is one "word"), so the index is pg_trgm's GIN over
  trigrams of characters, which serves ``ILIKE '%...%'`` for any language once the words
  searched for are 3 characters or more; shorter ones still read the table.
- Every page of the needs queue counts the needs its filter matches. Needs whose
  resident erased their data are left out, and no index held ``erased_at``, so each
  count read the rows themselves; this partial index holds the queue's filter columns
  for the needs not erased, and the count reads the index alone (the open needs' count
  went from 106 to 36 ms, open needs of one category older than 30 days from 41 to 6 ms).
- A need's page lists the pushes about it by the prefix of their idempotency key
  (``need_status:<id>:``). The unique index on the key cannot serve ``LIKE 'prefix%'``
  unless the database's collation is "C", so this index compares the key byte by byte
  (varchar_pattern_ops).

On SQLite the first and the last are plain indexes on the same columns. The pg_trgm extension stays
installed after a downgrade: other databases' objects may use it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_console_search_indexes"
down_revision: str | None = "0020_response_templates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index(
        "ix_need_description_trgm",
        "need",
        ["description"],
        postgresql_using="gin",
        postgresql_ops={"description": "gin_trgm_ops"},
    )
    op.create_index(
        "ix_need_unerased_queue_filters",
        "need",
        ["status", "category", "partner_id", "created_at"],
        postgresql_where=sa.text("erased_at IS NULL"),
        sqlite_where=sa.text("erased_at IS NULL"),
    )
    op.create_index(
        "ix_outbox_idempotency_key_pattern",
        "outbox",
        ["idempotency_key"],
        postgresql_ops={"idempotency_key": "varchar_pattern_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_idempotency_key_pattern", table_name="outbox")
    op.drop_index("ix_need_unerased_queue_filters", table_name="need")
    op.drop_index("ix_need_description_trgm", table_name="need")
