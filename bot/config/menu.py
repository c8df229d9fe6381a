"""The [menu] section: [[menu.button]] tables, held to WeChat's menu limits."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.config.errors import ConfigError
from bot.config.sections import MenuButton, MenuConfig
from bot.config.validation import is_http_url
from bot.config.values import coerce

# WeChat refuses larger menus only when `aixiang menu push` sends one; the simulator would
# show it all the same, so the limits are checked here.
MENU_MAX_BUTTONS = 3
MENU_MAX_SUB_BUTTONS = 5


def build_menu(values: Mapping[str, Any]) -> MenuConfig:
    buttons = values.get("button")
    if buttons is None:
        return MenuConfig()
    if not isinstance(buttons, list) or not buttons:
        raise ConfigError("menu.button must be a non-empty list of [[menu.button]] tables")
    if len(buttons) > MENU_MAX_BUTTONS:
        raise ConfigError(f"menu.button: WeChat menus have at most {MENU_MAX_BUTTONS} buttons")
    return MenuConfig(
        buttons=tuple(_menu_button(b, f"menu.button[{i}]", 1) for i, b in enumerate(buttons))
    )


def _menu_button(raw: Any, where: str, depth: int) -> MenuButton:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be a table")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}.name is required")
    subs = raw.get("sub_button", [])
    if not isinstance(subs, list):
        raise ConfigError(f"{where}.sub_button must be a list of [[{where}.sub_button]] tables")
    if subs and depth > 1:
        raise ConfigError(f"{where}.sub_button: WeChat menus have only two levels")
    if len(subs) > MENU_MAX_SUB_BUTTONS:
        raise ConfigError(f"{where}.sub_button: at most {MENU_MAX_SUB_BUTTONS} under a button")
    children = tuple(
        _menu_button(s, f"{where}.sub_button[{i}]", depth + 1) for i, s in enumerate(subs)
    )
    key = coerce(f"{where}.key", raw.get("key", ""), "")
    url = coerce(f"{where}.url", raw.get("url", ""), "")
    if not children and not (key or url):
        raise ConfigError(f"{where} needs a key (a CLICK button), a url, or sub_button entries")
    if url and not key and not is_http_url(url):
        raise ConfigError(f"{where}.url must be an http:// or https:// address")
    return MenuButton(name=name, key=key, url=url, sub_buttons=children)
