"""Every reply exists in Chinese and English; a catalogue maps a key to both.

Each feature module keeps its own ``TEXTS`` next to the code that uses them; the router
merges them into one catalogue and refuses a key that lacks a language or is defined
twice, so a missing translation fails at start-up, not in front of a resident.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from models.residents import Language

Texts = Mapping[str, Mapping[str, str]]


class Catalog:
    def __init__(self) -> None:
        self._texts: dict[str, Mapping[str, str]] = {}

    def add(self, texts: Texts) -> None:
        for key, versions in texts.items():
            if key in self._texts:
                raise ValueError(f"text {key!r} is defined twice")
            missing = [lang for lang in Language if not versions.get(lang)]
            if missing:
                raise ValueError(f"text {key!r} has no {', '.join(missing)} version")
            self._texts[key] = versions

    def render(self, key: str, language: str, **values: Any) -> str:
        return self._texts[key][language].format(**values)
