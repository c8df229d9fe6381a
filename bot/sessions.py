"""Flow state in Redis with a TTL, so an abandoned draft simply expires.

When Redis is down, loads find nothing and saves are dropped: flows degrade to the
stateless help menu rather than failing the webhook.
"""

from __future__ import annotations

import json
from typing import Any

from bot.redis_conn import KeyWrite, ThreadClients, degradable
from handlers.context import FlowState

# A draft set aside outlives the flow TTL in Redis by this much (the clock still ends it
# at the TTL), so that a resident who comes back for it is told it expired.
KEPT_NOTICE_S = 24 * 3600


class RedisSessionStore:
    def __init__(self, clients: ThreadClients, ttl_s: int) -> None:
        self._client = clients
        self._ttl_s = ttl_s

    @staticmethod
    def key(openid: str) -> str:
        """Where a resident's flow lives; the webhook reads it in its first round trip
        with Redis (bot/dedupe.py), so there is no load of its own."""
        return f"aixiang:flow:{openid}"

    @staticmethod
    def parse(raw: str | None) -> FlowState | None:
        """The flow state stored at :meth:`key`, or None for no flow."""
        if raw is None:
            return None
        stored = json.loads(str(raw))
        kept = {
            key: FlowState(name=draft["name"], data=draft["data"])
            for key, draft in stored.get("kept", {}).items()
        }
        return FlowState(name=stored["name"], data=stored["data"], kept=kept)

    def load(self, openid: str) -> FlowState | None:
        """The resident's flow, read on its own: for a delivery the spool kept, whose
        flow may have moved on since it arrived."""
        raw = degradable("load flow", lambda: self._client().get(self.key(openid)), None)
        return self.parse(None if raw is None else str(raw))

    def save(self, openid: str, state: FlowState) -> None:
        self.apply(self.write_for(openid, state))

    def clear(self, openid: str) -> None:
        self.apply(self.write_for(openid, None))

    def apply(self, write: KeyWrite) -> None:
        """A write :meth:`write_for` made, on a round trip of its own."""
        degradable("save flow", lambda: write.apply(self._client()), None)

    def write_for(self, openid: str, state: FlowState | None) -> KeyWrite:
        """The write that stores ``state`` as the resident's flow (None: no flow), kept
        for the flow TTL, or longer while drafts are set aside."""
        if state is None:
            return KeyWrite(self.key(openid))
        stored: dict[str, Any] = {"name": state.name, "data": state.data}
        ttl_s = self._ttl_s
        if state.kept:
            stored["kept"] = {
                key: {"name": draft.name, "data": draft.data} for key, draft in state.kept.items()
            }
            ttl_s += KEPT_NOTICE_S
        return KeyWrite(self.key(openid), json.dumps(stored, ensure_ascii=False), ttl_s)


class HeldFlow:
    """The flow store one delivery's handlers are given: what they save or clear is held,
    the last of it kept, until the delivery is stored; bot/inbound.py then writes it in
    the round trip that caches the reply.

    A handling that is rolled back (its handler failed, another copy was stored first, the
    database went away and the delivery was spooled) so leaves the flow as it was, where
    written at once it would have moved on without the message; and a message that moves
    the flow twice (the "not understood" marker cleared, then set again) costs no round
    trip of its own: the webhook's Redis round trips per message went from up to four to
    two (bench/README.md). A second message from the same resident that arrives between
    the first one's commit and that write reads the flow as it was: WeChat shows the
    reply only after the write, and residents answer replies.
    """

    def __init__(self, store: RedisSessionStore) -> None:
        self._store = store
        self.write: KeyWrite | None = None

    def save(self, openid: str, state: FlowState) -> None:
        self.write = self._store.write_for(openid, state)

    def clear(self, openid: str) -> None:
        self.write = self._store.write_for(openid, None)
