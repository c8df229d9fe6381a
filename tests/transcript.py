"""Conversations at the handler level: a resident's turns go straight to the real router.

``talk.say("帮助")`` returns the reply text the way ``tests/chat.py``'s ``Chat`` does, but
without Flask, signatures, XML, dedupe or storage: a plain ``Message`` and a ``Context``
built as bot/inbound.py builds them, then ``Router.dispatch`` (zulip's ``verify_dialog``
idea, STYLE 10). ``talk.verify([(said, answered), ...])`` checks a whole exchange exactly.

What only the webhook does (dedupe, the stored message and reply, the resident's last
interaction, held pushes riding on a reply, the apology when a handler fails) is tested
through ``Chat``, with one webhook-level test per feature for the wiring.

Flow state lives in the services' real session store (Redis), as under the webhook, so a
flow survives between turns exactly as it would (JSON and all), and a test may mix
handler-level turns with webhook ones for the same resident.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol, cast

import pytest

from bot.sessions import HeldFlow
from bot.webhook_services import WebhookServices
from handlers.message import Location, Message, MessageType
from models.inbound import NewInbound, enrol


class Says(Protocol):
    """Anyone a test can make say something: a ``Talk`` or a webhook-level ``Chat``, so
    a step-saving helper (fill in a whole form) serves both kinds of test."""

    def say(self, text: str) -> str: ...


@dataclass
class Talk:
    """One resident's side of a conversation with the router, turn by turn; the same
    calls as ``Chat`` (say, tap, event, as_resident), so a transcript reads the same at
    either level."""

    services: WebhookServices
    openid: str = "o-resident-1"

    def send(self, message: Message) -> str:
        """One turn: the reply text ("" for none). Whatever the handler changed is
        committed, and its flow then written, as the webhook does; an exception fails the
        test as itself."""
        services = self.services
        now = services.clock()
        # redis-py types a sync client's answers as maybe-awaitable; this one is sync.
        stored = cast(str | None, services.redis.get(services.sessions.key(self.openid)))
        flow = services.sessions.parse(stored)
        with services.engine.connect() as connection:
            # The webhook's first-contact upsert: answers the resident (created on first
            # contact) with the language the handlers read, and records no interaction.
            contact = enrol(connection, self._arrival(message))
            with services.session_factory(bind=connection) as db:
                held = HeldFlow(services.sessions)
                ctx = services.context(db, contact, now, flow, held)
                reply = services.router.dispatch(message, ctx)
                db.commit()
        if held.write is not None:
            services.sessions.apply(held.write)
        return reply.text if reply is not None else ""

    def message(
        self,
        msg_type: str,
        *,
        text: str = "",
        event: str = "",
        event_key: str = "",
        media_id: str = "",
        pic_url: str = "",
        location: Location | None = None,
        raw: Mapping[str, str] | None = None,
    ) -> Message:
        """A message from this resident, sent now by the test clock."""
        return Message(
            openid=self.openid,
            type=msg_type,
            created_at=self.services.clock(),
            text=text,
            event=event,
            event_key=event_key,
            media_id=media_id,
            pic_url=pic_url,
            location=location,
            raw=dict(raw or {}),
        )

    def say(self, text: str) -> str:
        return self.send(self.message(MessageType.TEXT, text=text))

    def speak(self, recognition: str) -> str:
        """A voice message with what WeChat's speech recognition heard ("" for nothing)."""
        return self.send(self.message(MessageType.VOICE, text=recognition, media_id="voice-media"))

    def image(self, media_id: str, pic_url: str) -> str:
        return self.send(self.message(MessageType.IMAGE, media_id=media_id, pic_url=pic_url))

    def location(self, latitude: float, longitude: float, label: str) -> str:
        return self.send(
            self.message(MessageType.LOCATION, location=Location(latitude, longitude, label))
        )

    def event(self, event: str, key: str = "", raw: Mapping[str, str] | None = None) -> str:
        """An event as bot/protocol.py reads it: the event's name in lower case."""
        return self.send(
            self.message(MessageType.EVENT, event=event.lower(), event_key=key, raw=raw)
        )

    def tap(self, key: str) -> str:
        return self.event("CLICK", key)

    def as_resident(self, openid: str) -> Talk:
        return Talk(services=self.services, openid=openid)

    def verify(self, dialog: Iterable[tuple[str, str]]) -> None:
        """Each thing said gets exactly its answer, in order."""
        for said, answered in dialog:
            assert self.say(said) == answered, f"answer to {said!r}"

    def _arrival(self, message: Message) -> NewInbound:
        return NewInbound(
            openid=self.openid,
            interaction=None,
            dedupe_key="",
            msg_id=None,
            msg_type=message.type,
            event=message.event or None,
            event_key=message.event_key or None,
            content=None,
            received_at=message.created_at,
        )


@pytest.fixture
def talk(services: WebhookServices) -> Talk:
    """A resident (``o-resident-1``, as ``chat``) talking to the router over empty tables."""
    return Talk(services=services)
