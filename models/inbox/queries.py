"""What the console reads of the inbox: the list by tab, and one conversation's thread
with each answer's delivery as the outbox tells it. Whether a resident has a conversation
open, the chat's question, comes with every delivery's arrival (models/inbound.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from models.accounts.roles import ROLE_PERMISSIONS, Permission
from models.accounts.tables import Account
from models.audit import AuditAction, AuditEntry, AuditObject
from models.base import SelectT
from models.inbox.tables import Conversation, ConversationMessage, ConversationStatus
from models.push.outbox import OutboxMessage
from models.residents import Resident
from models.villages.queries import in_village

LIST_SIZE = 200
EXCERPT = 60


class InboxTab(StrEnum):
    """The console's tabs: open conversations nobody has taken, open ones the reader has
    taken, and every conversation, closed ones included."""

    UNASSIGNED = "unassigned"
    MINE = "mine"
    ALL = "all"


@dataclass(frozen=True)
class InboxRow:
    conversation: Conversation
    resident: Resident
    assignee: str | None
    last_text: str


@dataclass(frozen=True)
class Delivery:
    """How far an answer's push got: the outbox row's status, channel and times."""

    status: str
    channel: str | None
    sent_at: datetime | None
    next_attempt_at: datetime
    last_error: str | None


@dataclass(frozen=True)
class ThreadEntry:
    message: ConversationMessage
    author_login: str | None
    delivery: Delivery | None


@dataclass(frozen=True)
class AssignmentNote:
    """Who gave the conversation to whom (``assigned`` None: back to nobody), and when,
    as the audit log has it: the thread shows each hand-over between the messages."""

    created_at: datetime
    by: str
    assigned: str | None


@dataclass(frozen=True)
class Thread:
    conversation: Conversation
    resident: Resident
    assignee: str | None
    entries: list[ThreadEntry]
    assignments: list[AssignmentNote]

    @property
    def timeline(self) -> list[ThreadEntry | AssignmentNote]:
        """Messages and hand-overs in the order they happened (a hand-over at the same
        moment as a message comes after it: it answered what was said)."""
        moments: list[tuple[datetime, int, ThreadEntry | AssignmentNote]] = [
            (entry.message.created_at, 0, entry) for entry in self.entries
        ]
        moments += [(note.created_at, 1, note) for note in self.assignments]
        return [item for _, _, item in sorted(moments, key=lambda moment: moment[:2])]


def assignable_accounts(db: Session) -> list[Account]:
    """The active accounts a conversation can be given to: those whose role answers the
    inbox, by login name."""
    roles = [
        role for role, allowed in ROLE_PERMISSIONS.items() if Permission.ANSWER_INBOX in allowed
    ]
    return list(
        db.execute(
            select(Account)
            .where(Account.active.is_(True), Account.role.in_(roles))
            .order_by(Account.login)
        ).scalars()
    )


def inbox(
    db: Session,
    tab: InboxTab,
    account_id: int,
    village_id: int | None = None,
    limit: int = LIST_SIZE,
) -> list[InboxRow]:
    """One tab of the inbox, the conversation with the latest message first; with
    ``village_id``, only residents of that village (or one of its groups)."""
    assignee = aliased(Account)
    last_text = (
        select(ConversationMessage.text)
        .where(ConversationMessage.conversation_id == Conversation.id)
        .order_by(ConversationMessage.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    query = (
        select(Conversation, Resident, assignee.login, last_text)
        .join(Resident, Resident.id == Conversation.resident_id)
        .outerjoin(assignee, assignee.id == Conversation.assigned_account_id)
        .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        .limit(limit)
    )
    query = inbox_narrowed(query, tab, account_id, village_id)
    return [
        InboxRow(conversation, resident, login, _excerpt(text or ""))
        for conversation, resident, login, text in db.execute(query).all()
    ]


def inbox_narrowed(
    query: SelectT, tab: InboxTab, account_id: int, village_id: int | None
) -> SelectT:
    """A tab's conditions (``query`` joins the resident), for the inbox and its export."""
    if village_id is not None:
        query = query.where(in_village(Resident.village_id, village_id))
    if tab == InboxTab.UNASSIGNED:
        return query.where(
            Conversation.status == ConversationStatus.OPEN,
            Conversation.assigned_account_id.is_(None),
        )
    if tab == InboxTab.MINE:
        return query.where(
            Conversation.status == ConversationStatus.OPEN,
            Conversation.assigned_account_id == account_id,
        )
    return query


def thread(db: Session, conversation: Conversation) -> Thread:
    """The conversation's messages in order, each answer with its delivery."""
    author = aliased(Account)
    rows = db.execute(
        select(ConversationMessage, author.login, OutboxMessage)
        .outerjoin(author, author.id == ConversationMessage.account_id)
        .outerjoin(OutboxMessage, OutboxMessage.id == ConversationMessage.outbox_id)
        .where(ConversationMessage.conversation_id == conversation.id)
        .order_by(ConversationMessage.id)
    ).all()
    entries = [
        ThreadEntry(message, login, _delivery(push) if push is not None else None)
        for message, login, push in rows
    ]
    assignee = (
        db.get_one(Account, conversation.assigned_account_id).login
        if conversation.assigned_account_id is not None
        else None
    )
    resident = db.get_one(Resident, conversation.resident_id)
    return Thread(conversation, resident, assignee, entries, _assignments(db, conversation))


def _assignments(db: Session, conversation: Conversation) -> list[AssignmentNote]:
    entries = db.execute(
        select(AuditEntry)
        .where(
            AuditEntry.object_type == AuditObject.CONVERSATION,
            AuditEntry.object_id == conversation.id,
            AuditEntry.action.in_(
                [AuditAction.CONVERSATION_ASSIGN, AuditAction.CONVERSATION_UNASSIGN]
            ),
        )
        .order_by(AuditEntry.id)
    ).scalars()
    return [
        AssignmentNote(entry.created_at, entry.actor_label, (entry.after or {}).get("assigned"))
        for entry in entries
    ]


def _delivery(push: OutboxMessage) -> Delivery:
    return Delivery(push.status, push.channel, push.sent_at, push.next_attempt_at, push.last_error)


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT else f"{flat[:EXCERPT]}…"
