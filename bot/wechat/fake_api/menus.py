"""The custom menu: stored after WeChat's checks on its shape, and read back."""

from __future__ import annotations

from typing import Any

from bot.wechat.fake_api.replies import OK, Reply, error
from bot.wechat.fake_api.state import FakeWeChat

MENU_TOP_NAME_BYTES = 16
MENU_SUB_NAME_BYTES = 60


def menu_create(fake: FakeWeChat, query: dict[str, str], body: Any) -> Reply:
    if not isinstance(body, dict):
        return error(44002)
    errcode = _menu_errcode(body.get("button"))
    if errcode:
        return error(errcode)
    with fake.lock:
        fake.menu = {"button": body["button"]}
    return OK


def menu_get(fake: FakeWeChat, query: dict[str, str], body: Any) -> Reply:
    with fake.lock:
        menu = fake.menu
    return error(46003) if menu is None else Reply({"menu": menu})


def _menu_errcode(buttons: Any) -> int:
    """WeChat's checks on a menu: 1-3 buttons, up to 5 below each, names that fit."""
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        return 40016
    for button in buttons:
        if not isinstance(button, dict):
            return 47001
        subs = button.get("sub_button")
        if not subs:
            errcode = _menu_leaf_errcode(button, MENU_TOP_NAME_BYTES)
        elif not isinstance(subs, list) or len(subs) > 5:
            errcode = 40023
        elif not _name_fits(button.get("name"), MENU_TOP_NAME_BYTES):
            errcode = 40018
        else:
            errcode = next(
                (code for sub in subs if (code := _menu_leaf_errcode(sub, MENU_SUB_NAME_BYTES))),
                0,
            )
        if errcode:
            return errcode
    return 0


def _menu_leaf_errcode(button: Any, name_bytes: int) -> int:
    if not isinstance(button, dict):
        return 47001
    if not _name_fits(button.get("name"), name_bytes):
        return 40018
    kind = button.get("type")
    if kind == "click":
        key = button.get("key")
        return 0 if isinstance(key, str) and 0 < len(key.encode()) <= 128 else 40019
    if kind == "view":
        url = button.get("url")
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            return 0 if len(url.encode()) <= 1024 else 40048
        return 40048
    return 40017


def _name_fits(name: Any, limit: int) -> bool:
    return isinstance(name, str) and 0 < len(name.encode()) <= limit
