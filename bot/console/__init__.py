"""The staff, partner and foundation web console at ``/console/``.

Server-rendered pages (Jinja, with htmx for the parts that change in place), served by
the same app as the webhook, every front-end file from ``static/`` (static/vendor/README.md
lists them): nothing comes from a CDN, so a county office's intranet works. The shell is
thin: a view parses the form, checks the role (bot/console/auth.py), calls a domain
operation of models/ and renders.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask_babel import Babel

from bot.console.auth import csrf, login_manager
from bot.console.i18n import select_language
from bot.console.impact.public import blueprint as public_impact
from bot.console.session_cookie import ConsoleSessionInterface
from bot.console.views import console
from bot.services import Services

SESSION_COOKIE = "aixiang_console"


def install_console(app: Flask, services: Services) -> None:
    """Add the console to ``app``; the caller has checked that the config carries
    ``console.secret_key`` (``Config.require_console_secret``).

    The session cookie is HttpOnly, SameSite=Lax, Secure when ``console.secure_cookies``,
    scoped to /console, and signed anew at each request with its time: Flask refuses one
    older than ``console.idle_minutes``, which is the idle expiry. CSRF is checked by the
    console's guard on its own POSTs only (the webhook's are signed by WeChat instead), so
    Flask-WTF's app-wide check is off. Only the console's own paths open the session
    (bot/console/session_cookie.py).
    """
    config = services.config
    app.config.update(
        SECRET_KEY=config.console.secret_key,
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_PATH="/console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.console.secure_cookies,
        SESSION_REFRESH_EACH_REQUEST=True,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=config.console.idle_minutes),
        WTF_CSRF_CHECK_DEFAULT=False,
        # The token lives as long as the session, which idle expiry already bounds.
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.session_interface = ConsoleSessionInterface()
    Babel(
        app,
        locale_selector=select_language,
        default_locale=config.bot.default_language,
        default_timezone=config.bot.timezone,
    )
    login_manager.init_app(app)
    csrf.init_app(app)
    app.register_blueprint(console)
    app.register_blueprint(public_impact)
