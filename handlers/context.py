"""What a handler may use besides the message: the resident, the DB, flow state, the clock.

Dependencies are passed in rather than imported, so the same handler runs under the
webhook, in tests with a fixed clock, and with the session store degraded to nothing
when Redis is down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from models.base import local_text
from models.inbound import Contact
from models.residents import Resident
from texts.catalog import Catalog


@dataclass
class FlowState:
    """Where a resident is in a multi-step conversation, and what they said so far."""

    name: str
    data: dict[str, Any] = field(default_factory=dict)


class SessionStore(Protocol):
    """Flow state keyed by openid, expiring after the flow TTL (kept in Redis by bot/,
    which hands a message's flow to its handler in the Context)."""

    def save(self, openid: str, state: FlowState) -> None: ...

    def clear(self, openid: str) -> None: ...


@dataclass(frozen=True)
class NeedCategory:
    """A category residents pick from; ``key`` is stored, ``zh``/``en`` are shown."""

    key: str
    zh: str
    en: str

    def name(self, language: str) -> str:
        return self.zh if language == "zh" else self.en


@dataclass(frozen=True)
class HandlerSettings:
    timezone: ZoneInfo
    default_language: str = "zh"
    flow_ttl_s: int = 1800
    need_categories: tuple[NeedCategory, ...] = ()
    need_max_photos: int = 3
    need_max_text: int = 1000


@dataclass
class Context:
    db: Session
    contact: Contact
    sessions: SessionStore
    catalog: Catalog
    settings: HandlerSettings
    now: datetime
    flow: FlowState | None = None
    _resident: Resident | None = field(default=None, repr=False)

    @property
    def resident(self) -> Resident:
        """The resident's row, loaded on first use: most replies need only the language,
        which ``contact`` already has, and the webhook answers them without a look-up."""
        if self._resident is None:
            self._resident = self.db.get_one(Resident, self.contact.resident_id)
        return self._resident

    @property
    def language(self) -> str:
        loaded = self._resident
        language = loaded.language if loaded is not None else self.contact.language
        return language or self.settings.default_language

    def t(self, key: str, **values: Any) -> str:
        return self.catalog.render(key, self.language, **values)

    def local_time(self, moment: datetime) -> str:
        """A stored UTC time as residents read it, in the club's time zone."""
        return local_text(moment, self.settings.timezone)

    def start_flow(self, name: str, data: dict[str, Any] | None = None) -> FlowState:
        self.flow = FlowState(name=name, data=data or {})
        self.sessions.save(self.contact.openid, self.flow)
        return self.flow

    def end_flow(self) -> None:
        self.flow = None
        self.sessions.clear(self.contact.openid)
