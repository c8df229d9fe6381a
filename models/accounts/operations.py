"""Changes to accounts, each written to the audit log in the caller's transaction.

The console and the CLI both call these, so the rules (a partner account names its
organisation, a password is long enough, a disabled account stays out) hold whoever
asks. ``authenticate`` is here too: signing in reads the password hash, and nothing else
should.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy.orm import Session

from models.accounts.errors import AccountError
from models.accounts.passwords import hash_password, password_matches
from models.accounts.queries import find_account, linked_account
from models.accounts.roles import Role
from models.accounts.tables import DISPLAY_NAME_MAX, LOGIN_MAX, Account
from models.audit import Actor, ActorKind, AuditAction, AuditObject, record
from models.partners import Partner
from models.push.stale import weekly_report_stopped
from models.residents import OPENID_MAX
from texts.catalog import Language

LOGIN_PATTERN = re.compile(rf"[a-z0-9][a-z0-9._-]{{1,{LOGIN_MAX - 1}}}")
# What an openid WeChat gives looks like (28 characters of letters, digits, - and _),
# loosely enough for another account's longer ones.
OPENID_PATTERN = re.compile(rf"[A-Za-z0-9_-]{{1,{OPENID_MAX}}}")


def actor_for(account: Account) -> Actor:
    """The audit log's author for changes this account makes."""
    return Actor(ActorKind.ACCOUNT, account.login, account.id)


def check_new_account(
    db: Session,
    *,
    login: str,
    role: str,
    display_name: str = "",
    partner: Partner | None = None,
    language: str = Language.ZH,
) -> None:
    """Refuse an account that :func:`create_account` would refuse, before its password
    is asked for (the CLI asks only once the rest is right)."""
    login = login.strip().lower()
    if not LOGIN_PATTERN.fullmatch(login):
        raise AccountError("account_error_login", max=LOGIN_MAX)
    if role not in tuple(Role):
        raise AccountError("account_error_role", role=role, roles=", ".join(Role))
    if role == Role.PARTNER and partner is None:
        raise AccountError("account_error_partner_needed")
    if role != Role.PARTNER and partner is not None:
        raise AccountError("account_error_partner_not_wanted")
    if language not in tuple(Language):
        raise AccountError("account_error_language")
    if len(display_name.strip()) > DISPLAY_NAME_MAX:
        raise AccountError("account_error_display_name", max=DISPLAY_NAME_MAX)
    if find_account(db, login) is not None:
        raise AccountError("account_error_taken", login=login)


def create_account(
    db: Session,
    actor: Actor,
    *,
    login: str,
    role: str,
    password: str,
    now: datetime,
    display_name: str = "",
    partner: Partner | None = None,
    language: str = Language.ZH,
) -> Account:
    """A new active account. ``login`` is kept in lower case; the display name defaults
    to it."""
    check_new_account(
        db,
        login=login,
        role=role,
        display_name=display_name,
        partner=partner,
        language=language,
    )
    login = login.strip().lower()
    name = display_name.strip() or login
    account = Account(
        login=login,
        display_name=name,
        role=role,
        partner_id=partner.id if partner is not None else None,
        language=language,
        password_hash=hash_password(password),
        active=True,
        created_at=now,
    )
    db.add(account)
    db.flush()
    record(
        db,
        actor,
        AuditAction.ACCOUNT_ADD,
        AuditObject.ACCOUNT,
        account.id,
        now,
        after={
            "login": login,
            "display_name": name,
            "role": role,
            "partner": partner.name if partner is not None else None,
        },
    )
    return account


def set_password(db: Session, actor: Actor, account: Account, password: str, now: datetime) -> None:
    """A new password; the sessions signed in with the old one end (see the console's
    session id), and the log says that it changed, never what to."""
    account.password_hash = hash_password(password)
    db.flush()
    record(db, actor, AuditAction.ACCOUNT_PASSWORD, AuditObject.ACCOUNT, account.id, now)


def disable_account(db: Session, actor: Actor, account: Account, now: datetime) -> None:
    """The account can no longer sign in, its open sessions end at their next request,
    and a weekly report queued for it is not sent. The row stays: the audit log points
    at it."""
    if not account.active:
        raise AccountError("account_error_disabled_already", login=account.login)
    if actor.account_id == account.id:
        raise AccountError("account_error_disable_self")
    account.active = False
    account.disabled_at = now
    if account.wechat_openid is not None:
        weekly_report_stopped(db, account.wechat_openid)
    db.flush()
    record(
        db,
        actor,
        AuditAction.ACCOUNT_DISABLE,
        AuditObject.ACCOUNT,
        account.id,
        now,
        before={"active": True},
        after={"active": False},
    )


def set_language(db: Session, account: Account, language: str, now: datetime) -> None:
    """The language the console speaks to this account, chosen by its owner."""
    if language not in tuple(Language):
        raise AccountError("account_error_language")
    if account.language == language:
        return
    before = account.language
    account.language = language
    db.flush()
    record(
        db,
        actor_for(account),
        AuditAction.ACCOUNT_LANGUAGE,
        AuditObject.ACCOUNT,
        account.id,
        now,
        before={"language": before},
        after={"language": language},
    )


def link_wechat(db: Session, actor: Actor, account: Account, openid: str, now: datetime) -> None:
    """The WeChat follower ``openid`` is this account's owner: reports for the account go
    to it. An openid belongs to one account at most, and a disabled account links none."""
    openid = openid.strip()
    if not OPENID_PATTERN.fullmatch(openid):
        raise AccountError("account_error_openid", max=OPENID_MAX)
    if not account.active:
        raise AccountError("account_error_link_disabled", login=account.login)
    holder = linked_account(db, openid)
    if holder is not None and holder.id != account.id:
        raise AccountError("account_error_wechat_taken", login=holder.login)
    if account.wechat_openid == openid:
        return
    before = account.wechat_openid
    if before is not None:
        weekly_report_stopped(db, before)
    account.wechat_openid = openid
    db.flush()
    record(
        db,
        actor,
        AuditAction.ACCOUNT_WECHAT,
        AuditObject.ACCOUNT,
        account.id,
        now,
        before={"wechat_openid": before},
        after={"wechat_openid": openid},
    )


def unlink_wechat(db: Session, actor: Actor, account: Account, now: datetime) -> None:
    """The account has no WeChat follower any more, so its weekly report stops too (one
    queued is not sent)."""
    if account.wechat_openid is None:
        raise AccountError("account_error_not_linked", login=account.login)
    before = {"wechat_openid": account.wechat_openid, "weekly_report": account.weekly_report}
    weekly_report_stopped(db, account.wechat_openid)
    account.wechat_openid = None
    account.weekly_report = False
    db.flush()
    record(
        db,
        actor,
        AuditAction.ACCOUNT_WECHAT,
        AuditObject.ACCOUNT,
        account.id,
        now,
        before=before,
        after={"wechat_openid": None, "weekly_report": False},
    )


def set_weekly_report(
    db: Session, actor: Actor, account: Account, wanted: bool, now: datetime
) -> None:
    """Whether the account gets the weekly report on WeChat; only a linked account can."""
    if wanted and account.wechat_openid is None:
        raise AccountError("account_error_weekly_needs_wechat")
    if account.weekly_report == wanted:
        return
    account.weekly_report = wanted
    if not wanted and account.wechat_openid is not None:
        weekly_report_stopped(db, account.wechat_openid)
    db.flush()
    record(
        db,
        actor,
        AuditAction.ACCOUNT_WEEKLY_REPORT,
        AuditObject.ACCOUNT,
        account.id,
        now,
        before={"weekly_report": not wanted},
        after={"weekly_report": wanted},
    )


def authenticate(db: Session, login: str, password: str, now: datetime) -> Account | None:
    """The active account whose password this is, its sign-in time recorded; None for an
    unknown login, a wrong password or a disabled account alike, in the same time."""
    account = find_account(db, login)
    matches = password_matches(account.password_hash if account is not None else None, password)
    if account is None or not matches or not account.active:
        return None
    account.last_sign_in_at = now
    db.flush()
    return account
