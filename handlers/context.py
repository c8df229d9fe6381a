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
    """Where a resident is in a multi-step conversation, and what they said so far.

    ``kept`` holds the drafts set aside when the resident went elsewhere mid-flow (a menu
    tap, a command), by key (see handlers/flows.py), stored with the current flow so that
    one read finds both; a state with an empty ``name`` has no current flow, only those.
    """

    name: str
    data: dict[str, Any] = field(default_factory=dict)
    kept: dict[str, FlowState] = field(default_factory=dict)


class SessionStore(Protocol):
    """Flow state keyed by openid, expiring after the flow TTL (kept in Redis by bot/,
    which hands a message's flow to its handler in the Context)."""

    def save(self, openid: str, state: FlowState) -> None: ...

    def clear(self, openid: str) -> None: ...


@dataclass(frozen=True)
class Redemption:
    """What a link code gave: the console account it was issued for, or None for a wrong,
    expired or used code; ``refused`` when no code is read now (the follower tried too
    many lately, or the store is down)."""

    account_id: int | None
    refused: bool = False


class LinkCodes(Protocol):
    """One-time codes linking a console account to the follower who sends one (kept in
    Redis by bot/link_codes.py, which the console's account page issues them from)."""

    def redeem(self, code: str, openid: str) -> Redemption: ...


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
    link_codes: LinkCodes
    catalog: Catalog
    settings: HandlerSettings
    now: datetime
    flow: FlowState | None = None
    _resident: Resident | None = field(default=None, repr=False)
    kept: dict[str, FlowState] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        """The stored state split in two: the current flow (None when only drafts set
        aside were stored) and the drafts set aside."""
        stored = self.flow
        if stored is not None:
            self.kept = dict(stored.kept)
            self.flow = FlowState(stored.name, stored.data) if stored.name else None

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
        self._store()
        return self.flow

    def end_flow(self) -> None:
        """Leave the current flow; drafts set aside stay so."""
        self.flow = None
        self._store()

    def set_aside(self, key: str) -> None:
        """Keep the current flow's draft under ``key`` and leave the flow."""
        if self.flow is None:
            raise RuntimeError("no flow to set aside")
        self.kept[key] = self.flow
        self.end_flow()

    def take_kept(self, key: str) -> FlowState | None:
        """The draft set aside under ``key``, no longer kept, or None."""
        kept = self.kept.pop(key, None)
        if kept is not None:
            self._store()
        return kept

    def drop_kept(self) -> None:
        """Forget every draft set aside (the resident's data is being erased)."""
        self.kept.clear()
        self._store()

    def _store(self) -> None:
        if self.flow is None and not self.kept:
            self.sessions.clear(self.contact.openid)
            return
        current = self.flow or FlowState("")
        self.sessions.save(self.contact.openid, FlowState(current.name, current.data, self.kept))
