"""What a console request works with: the app's services, one database session for the
request (closed when it ends, rolled back unless a view committed), the clock, and the
signed-in account."""

from __future__ import annotations

from datetime import datetime

from flask import current_app, g
from flask_login import current_user
from sqlalchemy.orm import Session

from bot.services import Services
from models.accounts.tables import Account


def services() -> Services:
    found: Services = current_app.extensions["aixiang"]
    return found


def request_db() -> Session:
    """The request's session, opened on first use; see :func:`close_request_db`."""
    if "console_db" not in g:
        g.console_db = services().session_factory()
    db: Session = g.console_db
    return db


def close_request_db(_error: BaseException | None = None) -> None:
    db: Session | None = g.pop("console_db", None)
    if db is not None:
        db.close()


def now() -> datetime:
    return services().clock()


def account() -> Account:
    """The signed-in account (only views behind the sign-in guard call this)."""
    signed_in: Account = current_user.account
    return signed_in
