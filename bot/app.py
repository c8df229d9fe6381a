"""The Flask application factory: no side effects at import, everything from the config."""

from __future__ import annotations

from flask import Flask

from bot.config.loader import load_config
from bot.config.sections import Config
from bot.console import install_console
from bot.drain import Drainer
from bot.webhook import WebhookEndpoint
from bot.webhook import blueprint as webhook_blueprint
from bot.webhook_services import WebhookServices, build_webhook_services


def create_app(
    config: Config | None = None,
    services: WebhookServices | None = None,
    *,
    drain: bool = False,
) -> Flask:
    """Build the app: the webhook at /wechat and the console at /console/ (which needs
    ``console.secret_key``); tests pass ``services`` to share a clock, DB and Redis.
    ``drain`` starts this process's spool drain (bot/drain.py): every process that
    answers WeChat for real runs one; tests drive theirs by hand."""
    settings = services.config if services is not None else config or load_config()
    settings.require_console_secret()
    if services is None:
        services = build_webhook_services(settings, ping_connections=False)
    app = Flask(__name__)
    app.extensions["aixiang"] = services
    if drain:
        Drainer(services).start()
    app.register_blueprint(webhook_blueprint)
    # Flask's documented way to put WSGI middleware in front of the app.
    app.wsgi_app = WebhookEndpoint(app.wsgi_app, services)  # type: ignore[method-assign]
    install_console(app, services)
    return app
