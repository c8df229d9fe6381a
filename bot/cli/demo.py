"""``aixiang demo`` (everything locally) and ``aixiang fake-wechat`` (the fake WeChat API)."""

from __future__ import annotations

import click

from bot.cli.support import StaffError
from bot.config.errors import ConfigError
from bot.ports import PortTaken, ensure_port_free
from bot.wechat.fake_api.server import FAKE_APP_ID, FAKE_APP_SECRET, serve_fake_wechat

PORT = click.IntRange(1, 65535)


@click.command(short_help="Run everything locally: chat page and fake WeChat.")
@click.option("--port", default=8000, show_default=True, type=PORT, help="Webhook and page.")
@click.option("--fake-port", default=8001, show_default=True, type=PORT, help="Fake WeChat API.")
@click.option("--fresh", is_flag=True, help="Delete the demo's data first, to start empty.")
@click.option(
    "--subscription", is_flag=True, help="Play a subscription account: no template messages."
)
def demo(port: int, fake_port: int, fresh: bool, subscription: bool) -> None:
    """Run the bot locally with a chat page, a fake WeChat API and fresh credentials.

    Storage is always the embedded default (SQLite at instance/aixiang.db, Redis in
    process), whatever config.toml says; its menu and bot settings are used. While it
    runs, staff commands without a config file of their own use instance/demo.toml, the
    demo's config: its database, its clock and its WeChat account.
    """
    # The demo's runner brings in the whole web app and console; imported here, so
    # every other command (an `aixiang worker` starting, a staff command) does without.
    from bot.demo.runner import DemoError, run_demo

    try:
        run_demo(
            port=port,
            fake_port=fake_port,
            announce=click.echo,
            fresh=fresh,
            subscription=subscription,
        )
    except (DemoError, PortTaken, ConfigError) as exc:
        raise StaffError(str(exc)) from None


@click.command("fake-wechat", short_help="Serve the fake WeChat API.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8081, show_default=True, type=PORT)
@click.option("--app-id", default=FAKE_APP_ID, show_default=True, help="The app id it accepts.")
@click.option("--app-secret", default=FAKE_APP_SECRET, show_default=True)
def fake_wechat(host: str, port: int, app_id: str, app_secret: str) -> None:
    """Serve the fake WeChat API until Ctrl-C; point wechat.api_base_url at its /cgi-bin/."""
    try:
        ensure_port_free(host, port, "--port")
    except PortTaken as exc:
        raise StaffError(str(exc)) from None
    serve_fake_wechat(host, port, app_id, app_secret)
