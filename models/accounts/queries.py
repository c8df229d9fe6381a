"""Reads of accounts that the console and the CLI share."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.accounts.errors import AccountError
from models.accounts.tables import Account


def find_account(db: Session, login: str) -> Account | None:
    """The account signing in as ``login`` (login names are kept in lower case)."""
    return db.execute(
        select(Account).where(Account.login == login.strip().lower())
    ).scalar_one_or_none()


def linked_account(db: Session, openid: str) -> Account | None:
    """The account whose WeChat ``openid`` is, if any."""
    return db.execute(select(Account).where(Account.wechat_openid == openid)).scalar_one_or_none()


def get_account(db: Session, login: str) -> Account:
    account = find_account(db, login)
    if account is None:
        raise AccountError("account_error_unknown", login=login.strip())
    return account


def list_accounts(db: Session) -> list[Account]:
    """Every account, active ones first, then by login name."""
    return list(
        db.execute(select(Account).order_by(Account.active.desc(), Account.login)).scalars()
    )
