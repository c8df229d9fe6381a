"""Arguments that are not text: bytes a terminal or script passed that are not UTF-8.

Python decodes such bytes in ``sys.argv`` to lone surrogates (surrogateescape), which pass
every check and then raise UnicodeEncodeError on the first encode: writing a row, a log
line, a reply. The root group refuses them once, before any command runs, naming the
option (or argument) they were given to.
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from bot.cli.support import StaffError


class StaffGroup(click.Group):
    """The root ``aixiang`` group: refuses undecodable arguments before parsing any."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        bad = next((i for i, arg in enumerate(args) if _undecodable(arg)), None)
        if bad is not None:
            raise StaffError(
                f"{_given_to(self, args, bad)}: not valid UTF-8 text; check the terminal's "
                "or the script's encoding and type it again"
            )
        return super().parse_args(ctx, args)


def _undecodable(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)


def _given_to(root: click.Group, args: Sequence[str], bad: int) -> str:
    """What ``args[bad]`` is for: the option it follows or carries (``--title=...``), the
    positional argument it fills (``NAME``), or the command name it stands in for."""
    command: click.Command = root
    start = 0
    while isinstance(command, click.Group) and start < bad:
        token = args[start]
        start += 1
        if not token.startswith("-"):
            found = command.commands.get(token)
            if found is None:
                return "the command"
            command = found
    if isinstance(command, click.Group):
        return "the command"
    return _parameter_at(command, args[start:bad], args[bad])


def _parameter_at(command: click.Command, before: Sequence[str], token: str) -> str:
    options = {opt: param for param in command.params for opt in param.opts}
    positions = [param for param in command.params if isinstance(param, click.Argument)]
    filled = 0
    expects_value: str | None = None
    for earlier in before:
        if expects_value is not None:
            expects_value = None
            continue
        option = options.get(earlier)
        if isinstance(option, click.Option):
            expects_value = None if option.is_flag or option.count else earlier
        elif not earlier.startswith("-"):
            filled += 1
    if expects_value is not None:
        return expects_value
    if token.startswith("--") and "=" in token:
        return token.split("=", 1)[0]
    if filled < len(positions):
        return positions[filled].human_readable_name
    return "an argument"
