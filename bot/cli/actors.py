"""Who a staff command acts as, for the audit log: ``--as ACCOUNT``, or else the
operating-system user running it, marked as such (the CLI runs on the server, where that
name says who it was better than free text could)."""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from typing import TypeVar

import click
from sqlalchemy.orm import Session

from bot.cli.support import StaffError
from models.accounts.errors import AccountError
from models.accounts.operations import actor_for
from models.accounts.queries import get_account
from models.accounts.roles import Permission, allows
from models.accounts.tables import Account
from models.audit import Actor

F = TypeVar("F", bound=Callable[..., object])


def as_option(command: F) -> F:
    """The ``--as ACCOUNT`` option of a command that changes data."""
    option = click.option(
        "--as",
        "as_account",
        metavar="ACCOUNT",
        help="The console account you act as, named in the audit log (default: your "
        "operating-system user, marked '(os user)').",
    )
    return option(command)


def os_user() -> Actor:
    """The operating-system user; a process without a name in the user database (some
    containers) is named by its user id."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = f"uid {os.getuid()}"
    return Actor.os_user(name)


def acting(db: Session, as_account: str | None, permission: Permission) -> Actor:
    """The author of this command's changes: the ``--as`` account, which must be active
    and whose role must allow ``permission``, or the OS user."""
    if as_account is None:
        return os_user()
    return actor_for(acting_account(db, as_account, permission))


def acting_account(db: Session, as_account: str, permission: Permission | None) -> Account:
    """The active ``--as`` account; its role must allow ``permission`` (None: anything a
    person may do for themselves, such as their own password)."""
    try:
        account = get_account(db, as_account)
    except AccountError as exc:
        raise StaffError(f"--as: {exc}") from None
    if not account.active:
        raise StaffError(f"--as: account {account.login} is disabled")
    if permission is not None and not allows(account.role, permission):
        raise StaffError(f"--as: a {account.role} account may not do this")
    return account
