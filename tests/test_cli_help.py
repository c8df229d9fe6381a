"""`--help` of every command and group reads whole: click cuts a summary that does not fit
the listing with "...", which left sentences broken mid-way."""

from __future__ import annotations

from collections.abc import Iterator

import click
from click.testing import CliRunner

from bot.cli.main import main


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield prefix
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from command_paths(command, (*prefix, name))
        else:
            yield (*prefix, name)


def test_no_help_line_is_cut() -> None:
    runner = CliRunner()
    cut = []
    for path in command_paths(main):
        result = runner.invoke(main, [*path, "--help"], terminal_width=80)
        assert result.exit_code == 0, (path, result.output)
        cut += [
            f"aixiang {' '.join(path)}: {line.strip()}"
            for line in result.output.splitlines()
            if line.rstrip().endswith("...") and not line.startswith("Usage:")
        ]
    assert cut == []
