"""accounts: who signs in to the console, and the audit log of who changed what

Revision ID: 0015_accounts
Revises: 0014_new_push_kinds
Create Date: 2026-11-24

Two new tables and nothing else changed, so the revision can be renumbered (its id and
down_revision) when other migrations land before it. The CHECK values are written out,
not read from the enums: a migration records the schema as it was at this revision.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_accounts"
down_revision: str | None = "0014_new_push_kinds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("last_sign_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("wechat_openid", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "role IN ('admin', 'staff', 'partner', 'foundation', 'viewer')",
            name=op.f("ck_account_role"),
        ),
        sa.CheckConstraint("language IN ('zh', 'en')", name=op.f("ck_account_language")),
        sa.CheckConstraint(
            "(role = 'partner' AND partner_id IS NOT NULL) "
            "OR (role <> 'partner' AND partner_id IS NULL)",
            name=op.f("ck_account_partner_only_for_partner_role"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partner.id"], name=op.f("fk_account_partner_id_partner")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account")),
        sa.UniqueConstraint("login", name=op.f("uq_account_login")),
        sa.UniqueConstraint("wechat_openid", name=op.f("uq_account_wechat_openid")),
    )
    op.create_index(op.f("ix_account_partner_id"), "account", ["partner_id"])
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_account_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.Integer(), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.CheckConstraint(
            "actor_kind IN ('account', 'os_user')", name=op.f("ck_audit_actor_kind")
        ),
        sa.ForeignKeyConstraint(
            ["actor_account_id"], ["account.id"], name=op.f("fk_audit_actor_account_id_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit")),
    )
    op.create_index(op.f("ix_audit_created_at"), "audit", ["created_at"])
    op.create_index(op.f("ix_audit_actor_account_id"), "audit", ["actor_account_id"])
    op.create_index("ix_audit_object", "audit", ["object_type", "object_id"])


def downgrade() -> None:
    op.drop_table("audit")
    op.drop_table("account")
