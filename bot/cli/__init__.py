"""The `aixiang` command, one module per command group; bot.cli.main assembles them."""
