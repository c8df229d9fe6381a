"""The audit log: who changed what, when, with a short before and after.

Every change a person makes through the console or the CLI writes one row through
:func:`record`, in the caller's session: the row commits with the change or not at all,
so the log never tells of a change that did not happen, nor misses one that did.

The author is a console account, or, for the CLI without ``--as``, the operating-system
user who ran the command, marked as such: the CLI runs on the server, so that name is
the best there is, and it is never mistaken for an account.

``action`` and ``object_type`` are vocabularies in code (:class:`AuditAction`,
:class:`AuditObject`) without a CHECK on the table: every feature adds actions, and the
log, the largest table to rebuild, should not need a migration for each. The actor's
kind, which will not grow, has its CHECK.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import ID_MAX, Base, SelectT, check_one_of, page_count

ACTOR_NAME_MAX = 64
# A before or after value is cut to this many characters: the log says what changed, it
# does not keep copies of what residents wrote.
VALUE_MAX_CHARS = 200
PAGE_SIZE = 50


class ActorKind(StrEnum):
    ACCOUNT = "account"
    OS_USER = "os_user"


class AuditAction(StrEnum):
    """What was done, as ``<object>.<verb>``."""

    ACCOUNT_ADD = "account.add"
    ACCOUNT_PASSWORD = "account.password"
    ACCOUNT_DISABLE = "account.disable"
    ACCOUNT_LANGUAGE = "account.language"
    ACCOUNT_WECHAT = "account.wechat"
    ACCOUNT_WEEKLY_REPORT = "account.weekly_report"
    NEED_UPDATE = "need.update"
    CONVERSATION_ASSIGN = "conversation.assign"
    CONVERSATION_UNASSIGN = "conversation.unassign"
    CONVERSATION_ANSWER = "conversation.answer"
    CONVERSATION_CLOSE = "conversation.close"
    NEED_CATEGORY = "need.category"
    RESIDENT_ERASE = "resident.erase"
    TEMPLATE_SAVE = "template.save"
    TEMPLATE_DELETE = "template.delete"
    VILLAGE_ADD = "village.add"
    VILLAGE_RENAME = "village.rename"
    VILLAGE_RETIRE = "village.retire"
    TAG_ADD = "tag.add"
    TAG_RENAME = "tag.rename"
    TAG_DEACTIVATE = "tag.deactivate"
    TAG_ACTIVATE = "tag.activate"
    TAG_MERGE = "tag.merge"
    EVENT_CREATE = "event.create"
    EVENT_UPDATE = "event.update"
    EVENT_PUBLISH = "event.publish"
    EVENT_CANCEL = "event.cancel"
    EVENT_CHECKIN = "event.checkin"
    PARTNER_ADD = "partner.add"
    BROADCAST_SEND = "broadcast.send"
    BROADCAST_SCHEDULE = "broadcast.schedule"
    BROADCAST_CANCEL = "broadcast.cancel"
    OUTBOX_RETRY = "outbox.retry"
    OUTBOX_RESUME = "outbox.resume"
    MENU_PUSH = "menu.push"
    SWITCH_CHANGE = "switch.change"
    VIEW_SAVE = "view.save"
    VIEW_RENAME = "view.rename"
    VIEW_DELETE = "view.delete"
    # Personal data taken out of the console or the CLI as a file (no change, but who
    # took what out is what the log is for).
    EXPORT_RUN = "export.run"


class AuditObject(StrEnum):
    """What kind of record was changed."""

    ACCOUNT = "account"
    NEED = "need"
    CONVERSATION = "conversation"
    RESIDENT = "resident"
    TEMPLATE = "template"
    VILLAGE = "village"
    TAG = "tag"
    EVENT = "event"
    PARTNER = "partner"
    BROADCAST = "broadcast"
    # The outbox as a whole (no object id): repairs act on every row that qualifies.
    OUTBOX = "outbox"
    # The account's custom menu in WeChat (no object id): there is one.
    MENU = "menu"
    SWITCH = "switch"
    # A saved view of the needs queue (models/needs/saved_views.py).
    SAVED_VIEW = "saved_view"
    # A list exported to a file: the object id is the background job's, if it was one.
    EXPORT = "export"


@dataclass(frozen=True)
class Actor:
    """Who makes a change: an account (``account_id``), or an operating-system user."""

    kind: ActorKind
    name: str
    account_id: int | None = None

    @classmethod
    def os_user(cls, name: str) -> Actor:
        return cls(ActorKind.OS_USER, name[:ACTOR_NAME_MAX])

    @property
    def label(self) -> str:
        """How the author is shown (and written in a need's history)."""
        return self.name if self.kind == ActorKind.ACCOUNT else f"{self.name} (os user)"


class AuditEntry(Base):
    __tablename__ = "audit"
    __table_args__ = (
        check_one_of("actor_kind", ActorKind),
        Index("ix_audit_object", "object_type", "object_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"), index=True)
    # The login name (or OS user) at the time, so the log reads the same after renames.
    actor_name: Mapped[str] = mapped_column(String(ACTOR_NAME_MAX))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[int | None] = mapped_column(Integer)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    @property
    def actor_label(self) -> str:
        return Actor(ActorKind(self.actor_kind), self.actor_name).label


def record(
    db: Session,
    actor: Actor,
    action: AuditAction,
    object_type: AuditObject,
    object_id: int | None,
    now: datetime,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add the entry to ``db``'s transaction (flushed, never committed here)."""
    entry = AuditEntry(
        created_at=now,
        actor_kind=actor.kind,
        actor_account_id=actor.account_id,
        actor_name=actor.name,
        action=action,
        object_type=object_type,
        object_id=object_id,
        before=_short(before),
        after=_short(after),
    )
    db.add(entry)
    db.flush()
    return entry


def _short(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """JSON-safe values, long texts cut: numbers, booleans and None stay as they are."""
    if values is None:
        return None
    shown: dict[str, Any] = {}
    for key, value in values.items():
        if value is None or isinstance(value, bool | int | float):
            shown[key] = value
        else:
            text = value.isoformat() if isinstance(value, datetime) else str(value)
            shown[key] = text if len(text) <= VALUE_MAX_CHARS else text[:VALUE_MAX_CHARS] + "…"
    return shown


@dataclass(frozen=True)
class AuditFilter:
    """What the audit page narrows to; an empty field narrows nothing."""

    actor: str = ""
    action: str = ""
    object_type: str = ""
    object_id: int | None = None


def audit_filter_from_args(args: Mapping[str, str]) -> AuditFilter:
    """The filter from the log's address (or an export's filters, the same words);
    anything unknown narrows nothing."""
    action = args.get("action", "")
    object_type = args.get("object", "")
    return AuditFilter(
        actor=args.get("who", "").strip(),
        action=action if action in tuple(AuditAction) else "",
        object_type=object_type if object_type in tuple(AuditObject) else "",
        object_id=typed_number(args.get("object_id", "")),
    )


def typed_number(text: str) -> int | None:
    """A typed number ("#12" too), or None for anything that is not one (a filter then
    ignores it)."""
    text = text.strip().lstrip("#")
    return int(text) if text.isdecimal() and int(text) <= ID_MAX else None


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return page_count(self.total, self.page_size)


def audit_narrowed(query: SelectT, wanted: AuditFilter) -> SelectT:
    """The filter's conditions, for the log's pages and its export alike."""
    if wanted.actor:
        query = query.where(func.lower(AuditEntry.actor_name) == wanted.actor.strip().lower())
    if wanted.action:
        query = query.where(AuditEntry.action == wanted.action)
    if wanted.object_type:
        query = query.where(AuditEntry.object_type == wanted.object_type)
    if wanted.object_id is not None:
        query = query.where(AuditEntry.object_id == wanted.object_id)
    return query


def audit_order(query: SelectT) -> SelectT:
    return query.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())


def audit_page(
    db: Session, wanted: AuditFilter, page: int = 1, page_size: int = PAGE_SIZE
) -> AuditPage:
    """One page of entries, newest first, and how many match in all."""
    query = audit_narrowed(select(AuditEntry), wanted)
    total = db.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    page = max(1, page)
    entries = db.execute(
        audit_order(query).offset((page - 1) * page_size).limit(page_size)
    ).scalars()
    return AuditPage(list(entries), int(total), page, page_size)
