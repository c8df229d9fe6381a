"""A setting's value, from TOML or the environment, turned into its section's type."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from bot.config.errors import ConfigError

log = logging.getLogger(__name__)


def build_section(section: str, cls: type, values: Mapping[str, Any]) -> Any:
    known = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    defaults = cls()
    for key, value in values.items():
        if key not in known:
            log.warning("ignoring unknown setting %s.%s", section, key)
            continue
        kwargs[key] = coerce(f"{section}.{key}", value, getattr(defaults, key))
    return cls(**kwargs)


def coerce(name: str, value: Any, default: Any) -> Any:
    """Turn a TOML or environment value into the default's type, or say why not."""
    expected = type(default)
    if expected is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{name} must be true or false, got {value!r}")
    if expected is int:
        return whole_number(name, value)
    if expected is float:
        if isinstance(value, bool):
            raise ConfigError(f"{name} must be a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be text, got {value!r}")
    return value


def whole_number(name: str, value: Any) -> int:
    """An integer setting: ``int()`` would truncate 1.5 silently and raise OverflowError on
    ``inf``, so anything but a whole number is refused here, by name."""
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            value = coerce(name, value, 0.0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    if isinstance(value, float) and not value.is_integer():
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    return int(value)


def as_list(value: Any, name: str) -> list[Any]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list):
        raise ConfigError(f"{name} must be a list")
    return value
