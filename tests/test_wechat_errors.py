"""What WeChat's errcodes mean is decided in bot/wechat/errors.py, and nowhere else."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bot.wechat.errors import Refusal, WeChatAPIError, refusal, tag_refusal

ROOT = Path(__file__).resolve().parent.parent
# WeChat's errcodes for refused calls are five-digit numbers from 40001 up.
ERRCODES = range(40001, 50000)


@pytest.mark.parametrize(
    ("errcode", "meaning"),
    [
        (45015, Refusal.WINDOW_CLOSED),
        (45047, Refusal.WINDOW_CLOSED),
        (43004, Refusal.UNREACHABLE),
        (45009, Refusal.DAILY_QUOTA),
        (45011, Refusal.MINUTE_QUOTA),
        (45028, Refusal.MASS_QUOTA),
        (42001, Refusal.TOKEN),
        (45065, Refusal.ALREADY_SENT),
        (-1, Refusal.OTHER),
        (None, Refusal.OTHER),
    ],
)
def test_an_error_carries_what_its_errcode_means(errcode: int | None, meaning: Refusal) -> None:
    assert refusal(errcode) is meaning
    assert WeChatAPIError(errcode, "refused").refusal is meaning


def test_tag_refusals_say_what_staff_should_do() -> None:
    assert "100 tags" in (tag_refusal(45056) or "")
    assert tag_refusal(-1) is None and tag_refusal(None) is None


def test_no_errcode_outside_bot_wechat() -> None:
    found = []
    for folder in ("bot", "handlers", "models", "scheduler"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.is_relative_to(ROOT / "bot" / "wechat"):
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                value = node.value if isinstance(node, ast.Constant) else None
                if type(value) is int and value in ERRCODES:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {value}")
    assert found == []
