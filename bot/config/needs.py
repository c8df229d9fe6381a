"""The [needs] section: its settings and the [[needs.categories]] residents choose from."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bot.config.errors import ConfigError
from bot.config.sections import NeedCategory, NeedsConfig
from bot.config.values import build_section

NEED_CATEGORY_KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def build_needs(values: Mapping[str, Any]) -> NeedsConfig:
    """The [needs] settings; ``categories`` is a list of [[needs.categories]] tables."""
    scalars = {key: value for key, value in values.items() if key != "categories"}
    needs: NeedsConfig = build_section("needs", NeedsConfig, scalars)
    if "categories" not in values:
        return needs
    raw = values["categories"]
    if not isinstance(raw, list) or not raw:
        raise ConfigError("needs.categories must be a non-empty list of {key, zh, en} tables")
    categories = tuple(_need_category(c, f"needs.categories[{i}]") for i, c in enumerate(raw))
    keys = [category.key for category in categories]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ConfigError(f"needs.categories: key {duplicates[0]!r} is used twice")
    return replace(needs, categories=categories)


def _need_category(raw: Any, where: str) -> NeedCategory:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be a table with key, zh and en")
    texts: dict[str, str] = {}
    for name in ("key", "zh", "en"):
        value = raw.get(name)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}.{name} is required")
        texts[name] = value.strip()
    if not NEED_CATEGORY_KEY.match(texts["key"]):
        raise ConfigError(f"{where}.key must be up to 32 of a-z, 0-9 and _, got {texts['key']!r}")
    ack_days = raw.get("ack_days")
    if ack_days is not None and (
        not isinstance(ack_days, int) or isinstance(ack_days, bool) or not 1 <= ack_days <= 365
    ):
        raise ConfigError(f"{where}.ack_days must be a whole number of days from 1 to 365")
    return NeedCategory(**texts, ack_days=ack_days)
