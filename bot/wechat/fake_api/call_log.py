"""The call log: every call as it arrives, its answer when it ends, optionally in a file."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.wechat.fake_api.replies import Reply


class CallLog:
    """Recorded calls in arrival order, numbered by ``seq``; ``clock`` stamps them, and the
    calls a previous run kept in ``path`` are the first of this one's."""

    def __init__(self, path: Path | None, clock: Callable[[], float]) -> None:
        self._lock = threading.Lock()
        self._path = path
        self._clock = clock
        self._calls: list[dict[str, Any]] = read_call_log(path) if path else []
        self._seq = max((call["seq"] for call in self._calls), default=0)

    def record(
        self, endpoint: str, method: str, query: dict[str, str], body: Any
    ) -> dict[str, Any]:
        """The call, logged as it arrives (its ``status`` and ``result`` None until it ends)."""
        with self._lock:
            self._seq += 1
            record = {
                "seq": self._seq,
                "time": self._clock(),
                "endpoint": endpoint,
                "method": method,
                "query": query,
                "body": body,
                "status": None,
                "result": None,
            }
            self._calls.append(record)
        return record

    def finish(self, record: dict[str, Any], reply: Reply) -> None:
        """The call's answer added to its record, and the record kept in the file."""
        with self._lock:
            record["status"] = reply.status
            record["result"] = reply.summary()
            record.update(reply.recorded or {})
            if self._path is not None:
                with self._path.open("a", encoding="utf-8") as log_file:
                    log_file.write(json.dumps(record, ensure_ascii=False) + "\n")

    def calls(self, endpoint: str | None = None, since: int = 0) -> list[dict[str, Any]]:
        """Recorded calls in arrival order, optionally of one endpoint and after seq ``since``
        (so a page that polls can ask only for what is new). A call still being answered
        has ``status`` and ``result`` None."""
        with self._lock:
            return [
                dict(call)
                for call in self._calls
                if call["seq"] > since and (endpoint is None or call["endpoint"] == endpoint)
            ]

    def clear(self) -> int:
        with self._lock:
            count = len(self._calls)
            self._calls = []
            if self._path is not None:
                self._path.write_text("")
        return count


def read_call_log(path: Path) -> list[dict[str, Any]]:
    """The calls kept in ``path``; a line cut short by a crash is left out."""
    calls = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    for line in lines:
        try:
            call = json.loads(line)
        except ValueError:
            continue
        if isinstance(call, dict) and isinstance(call.get("seq"), int):
            calls.append(call)
    return calls
