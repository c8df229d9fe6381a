"""Forgiving answers inside flows: options by number or name, yes/no, skip.

ARCHITECTURE.md fixes the words; every flow reads answers through these helpers so that
a resident learns them once.
"""

from __future__ import annotations

from collections.abc import Sequence

from handlers.router import command_word, normalize

YES_WORDS = frozenset({"确认", "是", "好", "同意", "yes", "ok", "y", "confirm", "agree"})
# 取消/cancel is also the command that cancels a sign-up; where a flow asks yes or no, a
# resident typing it means no (flows.py lets the step take it before the command).
NO_WORDS = frozenset({"否", "不", "不同意", "取消", "no", "n", "cancel"})
SKIP_WORDS = frozenset({"跳过", "skip"})
BACK_WORDS = frozenset({"返回", "back"})


def is_yes(text: str) -> bool:
    """Yes as phones type it too: "好！", "OK."."""
    return command_word(normalize(text)) in YES_WORDS


def is_no(text: str) -> bool:
    return command_word(normalize(text)) in NO_WORDS


def is_yes_or_no(text: str) -> bool:
    """Whether the words answer a yes-or-no question, whatever else they could mean."""
    return is_yes(text) or is_no(text)


def is_skip(text: str) -> bool:
    return normalize(text) in SKIP_WORDS


def is_back(text: str) -> bool:
    return normalize(text) in BACK_WORDS


def pick_option(text: str, options: Sequence[Sequence[str]]) -> int | None:
    """The index of the option the resident meant, by its 1-based number or any of its names.

    ``options`` lists, for each option, the names it may be called by (e.g. its Chinese
    and English labels).
    """
    answer = normalize(text)
    if answer.isdecimal():
        number = int(answer)
        return number - 1 if 1 <= number <= len(options) else None
    for index, names in enumerate(options):
        if answer in {normalize(name) for name in names}:
            return index
    return None
