"""Who may still get a queued broadcast: the opt-out (退订) is the resident's word since
fan-out, and it wins until a row has gone out. Opting out skips the resident's queued
broadcast rows when it happens; a mass send, one row for many, leaves them out of its
request right before it is posted (:func:`mass_send_now`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.broadcasts.mass import MASS_OPENIDS_MIN, MassMethod, mass_tag_name, mass_text
from models.broadcasts.records import Broadcast, BroadcastRecipient
from models.push import stale
from models.push.registry import PushKind
from models.push.rows import enqueue_push
from models.residents import Resident

NOBODY_LEFT = "every recipient opted out (退订) or unfollowed before it went out"


def set_broadcast_opt_out(db: Session, resident: Resident, refused: bool) -> None:
    """Record a resident's 退订 (``refused``) or 订阅. Opting out also skips their queued
    broadcasts at once, in the same transaction, so none goes out with a later reply."""
    resident.broadcast_opt_out = refused
    if refused:
        stale.broadcasts_refused(db, resident.id)


@dataclass(frozen=True)
class MassSend:
    """A mass-send row's intent as it may go now: its one text, the id that makes a retry
    a duplicate WeChat drops, and its target (``to`` everyone, a ``tag`` by name with the
    ``openids`` it must hold, or an ``openids`` list)."""

    text: str
    send_id: str
    target: dict[str, Any]


def mass_send_now(
    db: Session,
    outbox_id: int,
    payload: dict[str, Any],
    expires_at: datetime | None,
    now: datetime,
) -> MassSend | str:
    """The mass send of outbox row ``outbox_id`` without the residents who opted out
    (退订) or unfollowed since fan-out, or why nothing of it goes out.

    The openids were fixed at fan-out, so this is read again right before the send:

    - an openid list keeps the others; one left alone cannot be a list (WeChat needs 2),
      so that resident gets a normal broadcast row instead;
    - a tag send's tag is filled with the others only;
    - a send to every follower cannot leave anyone out, so it becomes a tag send to the
      others (the broadcast's own tag, as a subscription account's audience uses).
    """
    target: dict[str, Any] = payload["target"]
    text = mass_text(payload["text"], payload["language"])

    def send(to: dict[str, Any]) -> MassSend:
        return MassSend(text, payload["send_id"], to)

    recipients = db.execute(
        select(Resident.id, Resident.openid, Resident.subscribed, Resident.broadcast_opt_out)
        .join(BroadcastRecipient, BroadcastRecipient.resident_id == Resident.id)
        .where(BroadcastRecipient.outbox_id == outbox_id)
        .order_by(Resident.id)
    ).all()
    staying = {r.openid: r.id for r in recipients if r.subscribed and not r.broadcast_opt_out}
    if len(staying) == len(recipients):
        return send(target)
    if not staying:
        return NOBODY_LEFT
    if target["to"] == MassMethod.BY_OPENIDS:
        kept = [openid for openid in target["openids"] if openid in staying]
        if len(kept) >= MASS_OPENIDS_MIN:
            return send({**target, "openids": kept})
        return _hand_to_single(db, payload, kept[0], staying[kept[0]], expires_at, now)
    if target["to"] == MassMethod.BY_TAG:
        return send({**target, "openids": [o for o in target["openids"] if o in staying]})
    broadcast = db.get(Broadcast, payload["fields"]["broadcast_id"])
    assert broadcast is not None and broadcast.sent_at is not None
    name = mass_tag_name(broadcast.id, broadcast.sent_at)
    return send({"to": MassMethod.BY_TAG, "tag": name, "openids": list(staying)})


def _hand_to_single(
    db: Session,
    payload: dict[str, Any],
    openid: str,
    resident_id: int,
    expires_at: datetime | None,
    now: datetime,
) -> str:
    """Queue the one resident left of an openid list as a normal broadcast row (its key is
    the one fan-out gives a single, so repeating this queues nothing more)."""
    broadcast_id = payload["fields"]["broadcast_id"]
    enqueue_push(
        db,
        recipient_openid=openid,
        kind=PushKind.BROADCAST,
        payload={"text": payload["text"], "fields": payload["fields"]},
        idempotency_key=f"broadcast:{broadcast_id}:{resident_id}",
        now=now,
        resident_id=resident_id,
        expires_at=expires_at,
    )
    return (
        "the others opted out (退订) or unfollowed before it went out; "
        "the one recipient left gets a normal broadcast"
    )
