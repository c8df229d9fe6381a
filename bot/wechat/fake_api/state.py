"""The fake's state: what WeChat would remember (tokens, tags, the menu, QR tickets), the
call log and the faults, independent of HTTP so that it stays easy to read. The endpoints
(bot/wechat/fake_api/endpoints.py) read and change it under ``lock``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.wechat.fake_api.call_log import CallLog
from bot.wechat.fake_api.faults import Fault, FaultSchedule

USER_TAG_PAGE = 10_000


class FakeWeChat:
    """One fake account's state; its endpoints' rules live in the modules named for them."""

    def __init__(
        self,
        app_id: str,
        app_secret: str,
        call_log: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``clock`` stamps the recorded calls (the demo's runs ahead of real time);
        ``call_log`` keeps them in a file, and the calls a previous run kept there are
        the first of this one's, numbering carrying on after them."""
        self.app_id = app_id
        self.app_secret = app_secret
        self.lock = threading.Lock()
        self.log = CallLog(call_log, clock)
        self.schedule = FaultSchedule()
        self.tokens: dict[str, float] = {}  # every token WeChat knows -> expiry (epoch s)
        self.plain_token: str | None = None
        self.stable_token: str | None = None
        self.tags: dict[int, str] = {}
        self.user_tags: dict[str, set[int]] = {}
        self.clientmsgids: dict[str, tuple[int, float]] = {}  # -> (msg_id, accepted at)
        # user/tag/get's page size; a test may shrink it to see paging.
        self.tag_page_size = USER_TAG_PAGE
        self.menu: dict[str, Any] | None = None
        self.tickets: dict[str, str] = {}
        self.next_id = 1000
        self.started = int(time.time())

    def new_id(self) -> int:
        with self.lock:
            self.next_id += 1
            return self.next_id

    def members(self, tag_id: int) -> list[str]:
        """Whoever has ``tag_id``, in openid order; the caller holds the lock."""
        return sorted(openid for openid, tags in self.user_tags.items() if tag_id in tags)

    def calls(self, endpoint: str | None = None, since: int = 0) -> list[dict[str, Any]]:
        """Recorded calls (see :meth:`CallLog.calls`)."""
        return self.log.calls(endpoint, since)

    def clear_calls(self) -> int:
        return self.log.clear()

    def forget_mass_requests(self) -> None:
        """Forget the clientmsgids of accepted mass sends, as a day passing would."""
        with self.lock:
            self.clientmsgids = {}

    def add_fault(self, fault: Fault) -> None:
        self.schedule.add(fault)

    def faults(self) -> list[dict[str, Any]]:
        return self.schedule.listed()

    def clear_faults(self) -> None:
        """Forget scheduled faults and let answers that are being delayed go now."""
        self.schedule.clear()

    def expire_tokens(self) -> int:
        """Make every token expire now, as if two hours had passed."""
        now = time.time()
        with self.lock:
            for token in self.tokens:
                self.tokens[token] = now
            return len(self.tokens)
