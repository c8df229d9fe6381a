"""event key as text: a menu link's tap carries its whole URL

Revision ID: 0009_event_key_text
Revises: 0008_contact_consent
Create Date: 2026-11-22

A VIEW event's EventKey is the menu link's URL, which WeChat allows up to 1,024 bytes;
in 255 characters PostgreSQL refused a long one, and the tap was never stored.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_event_key_text"
down_revision: str | None = "0008_contact_consent"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_message", schema=None) as batch_op:
        batch_op.alter_column(
            "event_key", existing_type=sa.String(length=255), type_=sa.Text(), nullable=True
        )


def downgrade() -> None:
    # Keys longer than the old width are cut, so the downgrade never fails on them.
    op.execute(
        "UPDATE inbound_message SET event_key = substr(event_key, 1, 255)"
        " WHERE length(event_key) > 255"
    )
    with op.batch_alter_table("inbound_message", schema=None) as batch_op:
        batch_op.alter_column(
            "event_key", existing_type=sa.Text(), type_=sa.String(length=255), nullable=True
        )
