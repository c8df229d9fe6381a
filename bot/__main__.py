"""`python -m bot` is the `aixiang` command."""

from bot.cli.main import run

run()
