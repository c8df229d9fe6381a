"""contact consent: agreeing to keep contact details is not agreeing to the needs notice

Revision ID: 0008_contact_consent
Revises: 0007_held_index
Create Date: 2026-11-22

Residents agree to keep their name and mobile "only to contact you about events"; until
now that agreement was recorded in privacy_consent_at, the needs privacy notice's column,
so a resident who had signed up for an event was never shown the needs notice. Contact
details now have their own consent time. Residents with contact details get it from the
time that was recorded for them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_contact_consent"
down_revision: str | None = "0007_held_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("resident", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("contact_consent_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.execute(
        "UPDATE resident SET contact_consent_at = privacy_consent_at"
        " WHERE name IS NOT NULL AND mobile IS NOT NULL"
    )


def downgrade() -> None:
    # Before 0008 the one consent column held the contact consent too: keep it there.
    op.execute(
        "UPDATE resident SET privacy_consent_at = contact_consent_at"
        " WHERE privacy_consent_at IS NULL AND contact_consent_at IS NOT NULL"
    )
    with op.batch_alter_table("resident", schema=None) as batch_op:
        batch_op.drop_column("contact_consent_at")
