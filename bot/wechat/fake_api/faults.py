"""Fault injection: misbehaviour scheduled for an endpoint's next calls."""

from __future__ import annotations

import math
import threading
from dataclasses import asdict, dataclass
from typing import Any

# A delay fault stands for a slow WeChat: a minute is already far past any client timeout,
# and a longer one could not be waited on at all (1e10 s overflows the wait).
MAX_DELAY_S = 60.0


@dataclass
class Fault:
    """A scheduled misbehaviour of one endpoint for its next ``times`` calls (None: until
    cleared): a delay, then an HTTP status, a WeChat errcode or a page that is not JSON
    (``not_json``, with HTTP 200, as a gateway in front of WeChat may answer) instead of
    the real answer."""

    endpoint: str
    errcode: int | None = None
    delay_s: float = 0.0
    http_status: int | None = None
    times: int | None = 1
    not_json: str | None = None

    @classmethod
    def from_json(cls, data: Any) -> Fault:
        """Read a fault sent to ``POST /_fake/faults``; ValueError says what is wrong."""
        if not isinstance(data, dict):
            raise ValueError("a fault is a JSON object")
        unknown = set(data) - {"endpoint", "errcode", "delay_s", "http_status", "times", "not_json"}
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        endpoint = data.get("endpoint")
        if not isinstance(endpoint, str) or not endpoint:
            raise ValueError("endpoint is required, e.g. 'message/custom/send'")
        fault = cls(
            endpoint=endpoint.strip("/"),
            errcode=_optional_int(data, "errcode"),
            delay_s=_delay(data),
            http_status=_optional_int(data, "http_status"),
            times=_optional_int(data, "times") if "times" in data else 1,
            not_json=_optional_text(data, "not_json"),
        )
        fault.validate()
        return fault

    def validate(self) -> None:
        coded = self.errcode is not None or self.http_status is not None
        if self.not_json is not None and coded:
            raise ValueError("not_json is an answer of its own: no errcode or http_status")
        if not coded and self.not_json is None and self.delay_s <= 0:
            raise ValueError("a fault needs errcode, http_status, not_json or a positive delay_s")
        if not 0 <= self.delay_s <= MAX_DELAY_S:
            raise ValueError(f"delay_s must be a number of seconds from 0 to {MAX_DELAY_S:g}")
        if self.http_status is not None and not 400 <= self.http_status <= 599:
            raise ValueError("http_status must be an error status (400-599)")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be at least 1, or null for every call until cleared")


def _delay(data: dict[str, Any]) -> float:
    """``delay_s`` as a finite number of seconds: not text, not NaN or infinity (which JSON
    cannot even carry back in /_fake/faults); its range is checked with the rest."""
    value = data.get("delay_s")
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"delay_s must be a number of seconds from 0 to {MAX_DELAY_S:g}")
    return float(value)


def _optional_int(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key} must be a whole number")
    return value


def _optional_text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{key} must be text")
    return value


class FaultSchedule:
    """The faults waiting for their endpoints' calls, and the event a delayed answer waits on,
    so that clearing the faults (or stopping the server) lets it go at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._wake = threading.Event()

    def add(self, fault: Fault) -> None:
        fault.validate()
        with self._lock:
            self._faults.append(fault)

    def listed(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(fault) for fault in self._faults]

    def clear(self) -> None:
        """Forget scheduled faults and let answers that are being delayed go now."""
        with self._lock:
            self._faults = []
            self._wake.set()
            self._wake = threading.Event()

    def take(self, endpoint: str) -> Fault | None:
        """The fault for this call of ``endpoint``, counted off its ``times``."""
        if not self._faults:
            return None
        with self._lock:
            for fault in self._faults:
                if fault.endpoint == endpoint:
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times == 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def wait(self, fault: Fault) -> None:
        """The fault's delay, cut short when the faults are cleared."""
        with self._lock:
            wake = self._wake
        wake.wait(fault.delay_s)
