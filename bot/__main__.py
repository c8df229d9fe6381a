"""`python -m bot` is the `aixiang` command."""

from bot.cli import run

run()
