"""The chat simulator: a WeChat-like page for trying the bot locally (``aixiang demo``)."""

from bot.demo.simulator.views import install_simulator

__all__ = ["install_simulator"]
