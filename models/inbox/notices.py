"""What the inbox pushes: a staff member's answer to the resident who left a message."""

from __future__ import annotations

from datetime import datetime

from models.push.registry import PushKind
from texts.catalog import both

ANSWER_KIND = PushKind.STAFF_ANSWER


def answer_key(message_id: int) -> str:
    """The idempotency key of the push carrying the answer ``message_id``."""
    return f"{ANSWER_KIND}:{message_id}"


def answer_payload(answer: str, answered_at: datetime) -> dict[str, object]:
    """The answer as the resident reads it, introduced as coming from staff in their
    language; the answer itself is in the words staff wrote."""
    return {
        "text": both("push_staff_answer", answer=answer).as_dict(),
        "fields": {"answer": answer, "answered_at": answered_at.isoformat()},
    }
