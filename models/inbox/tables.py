"""Conversations between a resident and staff, and their messages.

A resident has at most one open conversation (a partial unique index says so): what
they leave for staff while it is open joins it, and a message left after it was closed
opens it again, so staff read one thread per resident rather than a pile of tickets.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, check_one_of

# The longest message a resident or staff may leave: a chat message, not a letter.
MAX_TEXT = 1000


class ConversationStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Author(StrEnum):
    """Who wrote a message of a conversation."""

    RESIDENT = "resident"
    STAFF = "staff"


OPEN_ONLY = text("status = 'open'")


class Conversation(Base):
    __tablename__ = "conversation"
    __table_args__ = (
        check_one_of("status", ConversationStatus),
        Index(
            "uq_conversation_open_resident_id",
            "resident_id",
            unique=True,
            sqlite_where=OPEN_ONLY,
            postgresql_where=OPEN_ONLY,
        ),
        Index("ix_conversation_status_last_message_at", "status", "last_message_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=ConversationStatus.OPEN)
    assigned_account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"), index=True)
    opened_at: Mapped[datetime]
    last_message_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    # Who closed it, as the audit log names them (an account's login, or an OS user).
    closed_by: Mapped[str | None] = mapped_column(String(80))


class ConversationMessage(Base):
    __tablename__ = "conversation_message"
    __table_args__ = (
        check_one_of("author", Author),
        Index("ix_conversation_message_conversation_id_id", "conversation_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id"))
    author: Mapped[str] = mapped_column(String(16))
    # The staff member who answered (None for the resident's own messages).
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    # None once the resident erased their data (删除我的信息): the thread stays, the words go.
    text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    # A staff answer's push, whose row tells how far its delivery got.
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
