"""Flow state in Redis with a TTL, so an abandoned draft simply expires.

When Redis is down, loads find nothing and saves are dropped: flows degrade to the
stateless help menu rather than failing the webhook.
"""

from __future__ import annotations

import json
from typing import Any

from bot.redis_conn import ThreadClients, degradable
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
        stored: dict[str, Any] = {"name": state.name, "data": state.data}
        ttl_s = self._ttl_s
        if state.kept:
            stored["kept"] = {
                key: {"name": draft.name, "data": draft.data} for key, draft in state.kept.items()
            }
            ttl_s += KEPT_NOTICE_S
        value = json.dumps(stored, ensure_ascii=False)
        degradable("save flow", lambda: self._client().set(self.key(openid), value, ex=ttl_s), None)

    def clear(self, openid: str) -> None:
        degradable("clear flow", lambda: self._client().delete(self.key(openid)), None)
