"""The ``account`` table: one row per person who signs in to the console."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column

from models.accounts.roles import Role
from models.base import Base, CreatedAtMixin, check_one_of
from models.residents import OPENID_MAX
from texts.catalog import Language

LOGIN_MAX = 64
DISPLAY_NAME_MAX = 100


class Account(CreatedAtMixin, Base):
    __tablename__ = "account"
    __table_args__ = (
        check_one_of("role", Role),
        check_one_of("language", Language),
        # A partner account acts for one organisation; no other role belongs to one.
        CheckConstraint(
            "(role = 'partner' AND partner_id IS NOT NULL) "
            "OR (role <> 'partner' AND partner_id IS NULL)",
            name="partner_only_for_partner_role",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(LOGIN_MAX), unique=True)
    display_name: Mapped[str] = mapped_column(String(DISPLAY_NAME_MAX))
    role: Mapped[str] = mapped_column(String(16))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"), index=True)
    language: Mapped[str] = mapped_column(String(8))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_sign_in_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]
    # The WeChat follower this person is: linked by a code the person sends the Official
    # Account from their phone (bot/link_codes.py), or set by an admin with the CLI.
    wechat_openid: Mapped[str | None] = mapped_column(String(OPENID_MAX), unique=True)
    # Whether the weekly report (models/reports/weekly.py) is pushed to that follower.
    weekly_report: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
