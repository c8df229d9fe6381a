"""WeChat's JSON is built in bot/wechat/ only: models/, scheduler/ and handlers/ speak
intents ("send this text to this resident", "mass-send to this tag"), never its keys."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WECHAT_KEYS = frozenset({"touser", "msgtype", "template_id", "clientmsgid", "tag_id"})
# Migrations convert stored rows between shapes, including the WeChat request bodies that
# queued rows used to hold (0013_mass_intent); they are history, not code that sends.
HISTORY = ROOT / "models" / "migrations"


def _sources() -> list[Path]:
    return sorted(
        path
        for package in ("models", "scheduler", "handlers")
        for path in (ROOT / package).rglob("*.py")
        if not path.is_relative_to(HISTORY)
    )


@pytest.mark.parametrize("path", _sources(), ids=lambda path: str(path.relative_to(ROOT)))
def test_no_wechat_json_key_outside_bot_wechat(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    keys = sorted(
        {
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and node.value in WECHAT_KEYS
        }
    )
    assert keys == []


def test_the_guard_finds_what_it_looks_for() -> None:
    assert len(_sources()) > 20
    tree = ast.parse('body = {"touser": openid, "msgtype": "text"}')
    found = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)} & WECHAT_KEYS
    assert found == {"touser", "msgtype"}
