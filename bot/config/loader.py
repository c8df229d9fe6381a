"""``load_config``: defaults < TOML file < environment < overrides, then validation."""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from bot.config.errors import ConfigError
from bot.config.menu import build_menu
from bot.config.needs import build_needs
from bot.config.paths import PROJECT_ROOT, anchor_paths, config_path_for
from bot.config.push import build_push
from bot.config.sections import SCALAR_SECTIONS, Config
from bot.config.validation import validate
from bot.config.values import build_section

log = logging.getLogger(__name__)

ENV_PREFIX = "AIXIANG_"
# Environment names under the prefix that are not settings.
ENV_NOT_SETTINGS = frozenset({"AIXIANG_CONFIG"})
ENV_IGNORED_PREFIXES = ("AIXIANG_TEST_", "AIXIANG_BENCH_")


def load_config(
    path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    read_file: bool = True,
    running_demo: bool = True,
) -> Config:
    """Build the validated configuration.

    ``path`` defaults to ``AIXIANG_CONFIG``, else ``./config.toml`` when it exists, else
    the running demo's config (unless ``running_demo`` is False: the demo itself must not
    read the one a previous run left); ``overrides`` (section -> key -> value) win over
    everything and exist for tests, which also pass ``read_file=False`` so a developer's
    config.toml cannot leak in.
    """
    env = os.environ if environ is None else environ
    raw: dict[str, dict[str, Any]] = {}
    config_path = config_path_for(path, env, running_demo) if read_file else None
    if config_path is not None:
        _merge(raw, _read_toml(config_path))
    _merge(raw, _from_environment(env))
    if overrides:
        _merge(raw, {section: dict(values) for section, values in overrides.items()})
    return anchor_paths(_build(raw), config_path.parent if config_path else PROJECT_ROOT)


def _read_toml(path: Path) -> dict[str, Any]:
    """The settings in the file at ``path``; whatever makes it unusable (absent, a folder,
    unreadable, not UTF-8 as TOML requires, not TOML) is one line naming the path."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a folder, not a file") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {path} is not UTF-8 text (byte {exc.start + 1}); TOML files are "
            "UTF-8: save it as UTF-8"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _from_environment(env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name in ENV_NOT_SETTINGS:
            continue
        if name.startswith(ENV_IGNORED_PREFIXES):
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("_")
        if section not in SCALAR_SECTIONS or not key:
            log.warning("ignoring environment variable %s: no such setting", name)
            continue
        found.setdefault(section, {})[key] = value
    return found


def _merge(into: dict[str, dict[str, Any]], new: Mapping[str, Any]) -> None:
    for section, values in new.items():
        if not isinstance(values, Mapping):
            raise ConfigError(f"{section} must be a table of settings, not a single value")
        into.setdefault(section, {}).update(values)


def _build(raw: dict[str, dict[str, Any]]) -> Config:
    sections: dict[str, Any] = {}
    for section, values in raw.items():
        if section == "menu":
            sections["menu"] = build_menu(values)
        elif section == "needs":
            sections["needs"] = build_needs(values)
        elif section == "push":
            sections["push"] = build_push(values)
        elif section in SCALAR_SECTIONS:
            sections[section] = build_section(section, SCALAR_SECTIONS[section], values)
        else:
            log.warning("ignoring unknown config section [%s]", section)
    config = replace(Config(), **sections)
    validate(config)
    return config
