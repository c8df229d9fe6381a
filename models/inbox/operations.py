"""What changes a conversation: a resident leaving a message, staff assigning, answering
and closing. Each staff change is audited in the caller's session, so it commits with the
change or not at all; a refused request raises :class:`InboxError` before writing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models.accounts.roles import Permission, allows
from models.accounts.tables import Account
from models.audit import Actor, AuditAction, AuditObject, record
from models.inbox.errors import InboxError
from models.inbox.notices import ANSWER_KIND, answer_key, answer_payload
from models.inbox.tables import (
    MAX_TEXT,
    Author,
    Conversation,
    ConversationMessage,
    ConversationStatus,
)
from models.push.rows import enqueue_push
from models.residents import Resident


def _checked_text(text: str) -> str:
    """The message as kept: without the spaces around it; refused when empty or longer
    than a chat message."""
    words = text.strip()
    if not words:
        raise InboxError("inbox_error_empty")
    if len(words) > MAX_TEXT:
        raise InboxError("inbox_error_too_long", max=MAX_TEXT)
    return words


def _latest_conversation(db: Session, resident_id: int) -> Conversation | None:
    """The resident's most recent conversation, locked: the one a new message joins."""
    return db.execute(
        select(Conversation)
        .where(Conversation.resident_id == resident_id)
        .order_by(Conversation.id.desc())
        .limit(1)
        .with_for_update()
    ).scalar_one_or_none()


def leave_message(db: Session, resident: Resident, text: str, now: datetime) -> Conversation:
    """A resident's message for staff: it joins their open conversation, opens their
    closed one again (staff see the whole story, and whoever had it still has it), or
    starts the first one."""
    words = _checked_text(text)
    conversation = _latest_conversation(db, resident.id)
    if conversation is None:
        conversation = Conversation(
            resident_id=resident.id,
            status=ConversationStatus.OPEN,
            opened_at=now,
            last_message_at=now,
        )
        db.add(conversation)
        db.flush()
    elif conversation.status == ConversationStatus.CLOSED:
        conversation.status = ConversationStatus.OPEN
        conversation.opened_at = now
        conversation.closed_at = None
        conversation.closed_by = None
    conversation.last_message_at = now
    db.add(
        ConversationMessage(
            conversation_id=conversation.id, author=Author.RESIDENT, text=words, created_at=now
        )
    )
    db.flush()
    return conversation


def assign(
    db: Session, actor: Actor, conversation: Conversation, account: Account, now: datetime
) -> None:
    """Give the conversation to ``account``: staff take one for themselves or hand it to
    a colleague. Only an active account that may answer the inbox can hold one, or it
    would sit in a "mine" tab nobody reads."""
    if conversation.status == ConversationStatus.CLOSED:
        raise InboxError("inbox_error_closed_already")
    if not (account.active and allows(account.role, Permission.ANSWER_INBOX)):
        raise InboxError("inbox_error_assignee", login=account.login)
    if conversation.assigned_account_id == account.id:
        raise InboxError("inbox_error_assigned_already", login=account.login)
    before = _assignee_login(db, conversation)
    conversation.assigned_account_id = account.id
    record(
        db,
        actor,
        AuditAction.CONVERSATION_ASSIGN,
        AuditObject.CONVERSATION,
        conversation.id,
        now,
        before={"assigned": before},
        after={"assigned": account.login},
    )


def unassign(db: Session, actor: Actor, conversation: Conversation, now: datetime) -> None:
    """Give the conversation back to the unassigned tab (its holder is away, say)."""
    if conversation.status == ConversationStatus.CLOSED:
        raise InboxError("inbox_error_closed_already")
    before = _assignee_login(db, conversation)
    if before is None:
        raise InboxError("inbox_error_unassigned_already")
    conversation.assigned_account_id = None
    record(
        db,
        actor,
        AuditAction.CONVERSATION_UNASSIGN,
        AuditObject.CONVERSATION,
        conversation.id,
        now,
        before={"assigned": before},
        after={"assigned": None},
    )


def answer(
    db: Session, actor: Actor, conversation: Conversation, text: str, now: datetime
) -> ConversationMessage:
    """A staff answer: kept in the thread and queued as a push to the resident, which the
    worker delivers under WeChat's rules (models/push/channels.py says which channel can
    carry it now). An answer to a conversation nobody had makes it the answerer's."""
    if conversation.status == ConversationStatus.CLOSED:
        raise InboxError("inbox_error_closed")
    words = _checked_text(text)
    resident = db.get_one(Resident, conversation.resident_id)
    message = ConversationMessage(
        conversation_id=conversation.id,
        author=Author.STAFF,
        account_id=actor.account_id,
        text=words,
        created_at=now,
    )
    db.add(message)
    db.flush()
    message.outbox_id = enqueue_push(
        db,
        recipient_openid=resident.openid,
        kind=ANSWER_KIND,
        payload=answer_payload(words, now),
        idempotency_key=answer_key(message.id),
        now=now,
        resident_id=resident.id,
    )
    if conversation.assigned_account_id is None and actor.account_id is not None:
        conversation.assigned_account_id = actor.account_id
    record(
        db,
        actor,
        AuditAction.CONVERSATION_ANSWER,
        AuditObject.CONVERSATION,
        conversation.id,
        now,
        after={"message_id": message.id, "text": words},
    )
    return message


def close(db: Session, actor: Actor, conversation: Conversation, now: datetime) -> None:
    """Close the conversation, noting who and when; the resident's next message for staff
    opens it again."""
    if conversation.status == ConversationStatus.CLOSED:
        raise InboxError("inbox_error_closed_already")
    conversation.status = ConversationStatus.CLOSED
    conversation.closed_at = now
    conversation.closed_by = actor.label
    record(
        db,
        actor,
        AuditAction.CONVERSATION_CLOSE,
        AuditObject.CONVERSATION,
        conversation.id,
        now,
        before={"status": ConversationStatus.OPEN},
        after={"status": ConversationStatus.CLOSED},
    )


def erase_resident_messages(db: Session, resident_id: int) -> None:
    """The resident's own messages lose their words (删除我的信息); staff answers stay, as
    staff wrote them, and so does the conversation, so the console shows what happened."""
    db.execute(
        update(ConversationMessage)
        .where(
            ConversationMessage.author == Author.RESIDENT,
            ConversationMessage.conversation_id.in_(
                select(Conversation.id).where(Conversation.resident_id == resident_id)
            ),
        )
        .values(text=None)
    )


def _assignee_login(db: Session, conversation: Conversation) -> str | None:
    if conversation.assigned_account_id is None:
        return None
    return db.get_one(Account, conversation.assigned_account_id).login
