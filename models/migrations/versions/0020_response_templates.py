"""need_response_template: canned public notes per need category, in both languages

Revision ID: 0020_response_templates
Revises: 0019_inbox
Create Date: 2026-12-02

Admins keep them in the console; staff insert one into a need's note box and edit it
before it is sent (models/needs/responses.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_response_templates"
down_revision: str | None = "0019_inbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "need_response_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("text_zh", sa.Text(), nullable=False),
        sa.Column("text_en", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_need_response_template")),
        sa.UniqueConstraint(
            "category", "title", name=op.f("uq_need_response_template_category_title")
        ),
    )


def downgrade() -> None:
    op.drop_table("need_response_template")
