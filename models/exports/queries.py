"""Each export kind's row query: the rows its console list shows, narrowed by the list's
own filter code (read from the same address words) and kept to what the account may
see, as plain columns in the order of the kind's :data:`~models.exports.kinds.SPECS`.

Plain columns, not ORM objects: an export reads up to hundreds of thousands of rows in
batches through a server-side cursor, and building an object per row would cost more
than writing it."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased

from models.accounts.roles import allows
from models.accounts.tables import Account
from models.audit import AuditEntry, audit_filter_from_args, audit_narrowed, audit_order
from models.base import is_id
from models.events.listing import EventFilter, EventListing, co_hosts, events_narrowed, kept_to
from models.events.tables import LIVE_SIGNUP_STATUSES, Attendance, Event, Signup
from models.exports.errors import ExportError
from models.exports.kinds import SPECS, ExportKind
from models.inbox.queries import InboxTab, inbox_narrowed
from models.inbox.tables import Conversation
from models.needs.queue import AckDeadlines, narrowed, queue_order, read_filter
from models.needs.tables import Need
from models.partners import Partner
from models.push.outbox import OutboxMessage
from models.push.vocabulary import OutboxStatus
from models.resident_lookup import residents_narrowed
from models.residents import Resident

Filters = Mapping[str, str]
# An export's query: plain columns, as many as its kind has.
Rows = Select[*tuple[Any, ...]]


@dataclass(frozen=True)
class ExportScope:
    """Who exports: what their role may read, and a partner's organisation, to which
    everything they export is kept."""

    role: str
    partner_id: int | None = None
    # The account's own id (the inbox's "mine" tab); None for the OS user of the CLI.
    account_id: int | None = None

    @classmethod
    def of(cls, account: Account) -> ExportScope:
        return cls(account.role, kept_to(account), account.id)


@dataclass(frozen=True)
class ExportContext:
    """What the lists' filters are read with besides the address: the time, the needs
    queue's deadlines and the configured need categories."""

    now: datetime
    deadlines: AckDeadlines
    categories: Collection[str]


Builder = Callable[[Session, Filters, ExportScope, ExportContext], Rows]


def export_query(
    db: Session, kind: str, filters: Filters, scope: ExportScope, context: ExportContext
) -> Rows:
    """The kind's rows for this account and these filters; an unknown kind or filter,
    or a list the account may not read, is refused with :class:`ExportError`."""
    if kind not in tuple(ExportKind):
        raise ExportError("export_error_kind", kind=kind, kinds=", ".join(ExportKind))
    spec = SPECS[ExportKind(kind)]
    for key in filters:
        if key not in spec.filter_keys:
            raise ExportError(
                "export_error_filter", name=key, names=", ".join(spec.filter_keys) or "-"
            )
    if spec.permission is not None and not allows(scope.role, spec.permission):
        raise ExportError("export_error_refused", kind=kind)
    return BUILDERS[spec.kind](db, filters, scope, context)


def count_rows(db: Session, query: Rows) -> int:
    """How many rows an export's query gives (to choose between now and a job)."""
    return int(
        db.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    )


def _id(filters: Filters, key: str, *, required: bool = False) -> int | None:
    value = filters.get(key, "").strip()
    if not value and not required:
        return None
    if not is_id(value):
        raise ExportError("export_error_number", name=key)
    return int(value)


def _needs(db: Session, filters: Filters, scope: ExportScope, context: ExportContext) -> Rows:
    found = read_filter(filters, context.categories, scope.partner_id)
    if found.dropped:
        # The queue's page quietly widens a value it does not take; a file should hold
        # only the rows asked for.
        raise ExportError("export_error_value", name=found.dropped[0])
    wanted = found.wanted
    query = select(
        Need.id,
        Need.category,
        Need.status,
        Partner.name,
        Need.demand,
        Need.place,
        Need.description,
        Need.created_at,
        Need.acknowledged_at,
        Need.resolved_at,
    ).outerjoin(Partner, Partner.id == Need.partner_id)
    return queue_order(narrowed(query, wanted, context.deadlines, context.now), wanted.sort)


def _events(db: Session, filters: Filters, scope: ExportScope, context: ExportContext) -> Rows:
    listing = filters.get("show", "") or EventListing.UPCOMING
    if listing not in tuple(EventListing):
        raise ExportError("export_error_choice", name="show", choices=", ".join(EventListing))
    wanted = EventFilter(
        EventListing(listing),
        filters.get("tag", "").strip(),
        _id(filters, "village"),
        scope.partner_id,
    )
    query = select(
        Event.id, Event.title, Event.status, Event.starts_at, Event.place, Event.capacity
    )
    return events_narrowed(query, wanted, context.now)


def _event_id(db: Session, filters: Filters, scope: ExportScope) -> int:
    """The event a roster or attendance export is of, if the account may see it."""
    event_id = _id(filters, "event", required=True)
    assert event_id is not None
    if db.get(Event, event_id) is None or (
        scope.partner_id is not None and not co_hosts(db, event_id, scope.partner_id)
    ):
        raise ExportError("export_error_event", event=event_id)
    return event_id


def _roster(db: Session, filters: Filters, scope: ExportScope, context: ExportContext) -> Rows:
    event_id = _event_id(db, filters, scope)
    return (
        select(
            Resident.name,
            Resident.mobile,
            Signup.status,
            Signup.party_size,
            Signup.waitlist_position,
            Signup.created_at,
        )
        .join(Resident, Resident.id == Signup.resident_id)
        .where(Signup.event_id == event_id, Signup.status.in_(LIVE_SIGNUP_STATUSES))
        .order_by(Signup.status, Signup.waitlist_position, Signup.confirmed_at, Signup.id)
    )


def _attendance(db: Session, filters: Filters, scope: ExportScope, context: ExportContext) -> Rows:
    event_id = _event_id(db, filters, scope)
    return (
        select(
            Resident.name,
            Resident.mobile,
            Attendance.checked_in_at,
            Attendance.method,
            Attendance.walk_in,
            Attendance.party_size,
        )
        .join(Resident, Resident.id == Attendance.resident_id)
        .where(Attendance.event_id == event_id)
        .order_by(Attendance.checked_in_at, Attendance.id)
    )


def _residents(db: Session, filters: Filters, scope: ExportScope, context: ExportContext) -> Rows:
    query = select(
        Resident.id,
        Resident.name,
        Resident.mobile,
        Resident.language,
        Resident.subscribed,
        Resident.created_at,
        Resident.last_interaction_at,
    )
    return residents_narrowed(query, filters.get("q", ""), _id(filters, "village")).order_by(
        Resident.id
    )


def _inbox(db: Session, filters: Filters, scope: ExportScope, context: ExportContext) -> Rows:
    tab = filters.get("tab", "") or InboxTab.UNASSIGNED
    if tab not in tuple(InboxTab):
        raise ExportError("export_error_choice", name="tab", choices=", ".join(InboxTab))
    assignee = aliased(Account)
    query = (
        select(
            Conversation.id,
            Resident.name,
            Conversation.status,
            assignee.login,
            Conversation.opened_at,
            Conversation.last_message_at,
        )
        .join(Resident, Resident.id == Conversation.resident_id)
        .outerjoin(assignee, assignee.id == Conversation.assigned_account_id)
        .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
    )
    return inbox_narrowed(query, InboxTab(tab), scope.account_id or 0, _id(filters, "village"))


def _outbox(db: Session, filters: Filters, scope: ExportScope, context: ExportContext) -> Rows:
    query = select(
        OutboxMessage.id,
        OutboxMessage.kind,
        OutboxMessage.status,
        OutboxMessage.channel,
        OutboxMessage.attempts,
        OutboxMessage.created_at,
        OutboxMessage.sent_at,
        OutboxMessage.last_error,
    )
    status = filters.get("status", "")
    if status:
        if status not in tuple(OutboxStatus):
            raise ExportError("export_error_choice", name="status", choices=", ".join(OutboxStatus))
        query = query.where(OutboxMessage.status == status)
    if filters.get("kind"):
        query = query.where(OutboxMessage.kind == filters["kind"])
    return query.order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())


def _audit(db: Session, filters: Filters, scope: ExportScope, context: ExportContext) -> Rows:
    query = select(
        AuditEntry.created_at,
        AuditEntry.actor_name,
        AuditEntry.action,
        AuditEntry.object_type,
        AuditEntry.object_id,
        AuditEntry.before,
        AuditEntry.after,
    )
    return audit_order(audit_narrowed(query, audit_filter_from_args(filters)))


BUILDERS: dict[ExportKind, Builder] = {
    ExportKind.NEEDS: _needs,
    ExportKind.EVENTS: _events,
    ExportKind.ROSTER: _roster,
    ExportKind.ATTENDANCE: _attendance,
    ExportKind.RESIDENTS: _residents,
    ExportKind.INBOX: _inbox,
    ExportKind.OUTBOX: _outbox,
    ExportKind.AUDIT: _audit,
}
