"""``aixiang demo``: the whole bot on one machine, with nothing to install or configure.

One process runs the fake WeChat API (in a thread) and one web server holding the real
webhook at /wechat and the chat simulator at /. Storage is the embedded default (SQLite at
instance/aixiang.db, the in-process Redis substitute), and the WeChat credentials are made
up afresh for every run, so the demo ships no secret that anyone could reuse.
"""

from __future__ import annotations

import base64
import secrets
import signal
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime

from flask import Flask
from sqlalchemy.orm import Session
from werkzeug.serving import WSGIRequestHandler, make_server

from bot.app import create_app
from bot.config import DEFAULT_SQLITE_URL, MEMORY_REDIS_URL, Config, load_config
from bot.demo.loops import DemoBackground
from bot.demo.seed import seed_demo_events
from bot.demo.simulator import install_simulator
from bot.demo.simulator.clock import SimulatedClock
from bot.ports import ensure_port_free
from bot.webhook_services import WebhookServices, build_webhook_services
from bot.wechat.fake_api import FakeWeChatServer
from bot.wechat.payloads import WeChatPayloads
from models import migrate
from models.residents import get_or_create_resident

DEMO_HOST = "127.0.0.1"


class DemoError(Exception):
    """The demo cannot start; the message is one line saying why."""


@dataclass(frozen=True)
class DemoCredentials:
    """The made-up WeChat account of one demo run, in WeChat's formats."""

    token: str
    app_id: str
    app_secret: str
    encoding_aes_key: str

    @classmethod
    def generate(cls) -> DemoCredentials:
        return cls(
            token=secrets.token_hex(16),
            app_id=f"wx{secrets.token_hex(8)}",
            app_secret=secrets.token_hex(16),
            # WeChat's EncodingAESKey: 32 random bytes in base64, without the final "=".
            encoding_aes_key=base64.b64encode(secrets.token_bytes(32)).decode().rstrip("="),
        )


@dataclass(frozen=True)
class DemoResident:
    openid: str
    name: str
    language: str


DEMO_RESIDENTS = (
    DemoResident("o-demo-li", "李阿姨", "zh"),
    DemoResident("o-demo-wang", "王师傅", "zh"),
    DemoResident("o-demo-emma", "Emma", "en"),
)


def demo_config(credentials: DemoCredentials, api_base_url: str) -> Config:
    """The config file and environment, with storage forced to the embedded defaults and
    WeChat to this run's account at the fake API: the demo never touches a real database,
    Redis or WeChat account, whatever config.toml says. Menu and bot settings still apply,
    so the demo previews them."""
    return load_config(
        overrides={
            "database": {"url": DEFAULT_SQLITE_URL},
            "redis": {"url": MEMORY_REDIS_URL},
            "wechat": {
                "token": credentials.token,
                "app_id": credentials.app_id,
                "app_secret": credentials.app_secret,
                "encoding_aes_key": credentials.encoding_aes_key,
                "api_base_url": api_base_url,
            },
        }
    )


def seed_demo_data(db: Session, now: datetime) -> None:
    """Give the demo people to play and events to sign up for; running it again adds
    nothing."""
    for person in DEMO_RESIDENTS:
        resident = get_or_create_resident(db, person.openid, now)
        if resident.name is None:
            resident.name = person.name
            resident.language = person.language
    seed_demo_events(db, now)


def prepare_database(services: WebhookServices) -> None:
    """Bring the schema up to date and seed the demo data, in one transaction."""
    migrate.upgrade(services.config.database.url)
    with services.session_factory() as db, db.begin():
        seed_demo_data(db, services.clock())


def build_demo_app(services: WebhookServices, fake_api_root: str) -> Flask:
    """The webhook and the simulator in one app; serve it with a threaded server."""
    app = create_app(services=services)
    wechat = services.config.wechat
    payloads = WeChatPayloads(
        token=wechat.token, app_id=wechat.app_id, encoding_aes_key=wechat.encoding_aes_key
    )
    install_simulator(app, payloads, fake_api_root)
    return app


class _DemoRequestHandler(WSGIRequestHandler):
    """Werkzeug's request log without the page's poll every two seconds."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.path.startswith("/sim/api/pushes") and str(code) == "200":
            return
        super().log_request(code, size)


def run_demo(
    port: int = 8000, fake_port: int = 8001, announce: Callable[[str], None] = print
) -> None:
    """Run the demo in the foreground until Ctrl-C.

    Everything that runs beside the web server is entered on ``running``, which stops it
    in reverse order on the way out: the fake WeChat API and, once the database is ready,
    the outbox worker and the scheduler's jobs.
    """
    if port == fake_port:
        raise DemoError(f"the demo and the fake WeChat API cannot share port {port}")
    credentials = DemoCredentials.generate()
    ensure_port_free(DEMO_HOST, port, "--port")
    ensure_port_free(DEMO_HOST, fake_port, "--fake-port")
    with ExitStack() as running:
        fake = running.enter_context(
            FakeWeChatServer(DEMO_HOST, fake_port, credentials.app_id, credentials.app_secret)
        )
        services = build_webhook_services(demo_config(credentials, fake.base_url), SimulatedClock())
        running.callback(services.close)
        server = make_server(
            DEMO_HOST,
            port,
            build_demo_app(services, fake.root_url),
            threaded=True,
            request_handler=_DemoRequestHandler,
        )
        running.callback(server.server_close)
        prepare_database(services)
        # Background loops start here, each entered on ``running`` so that they stop too.
        running.enter_context(DemoBackground(services))
        announce(
            f"Aixiang demo: open http://{DEMO_HOST}:{port}/ to chat as a resident.\n"
            f"  webhook        http://{DEMO_HOST}:{port}/wechat\n"
            f"  fake WeChat    {fake.base_url} (calls: {fake.root_url}/_fake/calls)\n"
            f"  database       {services.config.database.url}; Redis in-process\n"
            f"  account        app id {credentials.app_id}, made up for this run\n"
            "Press Ctrl-C to stop."
        )
        # Werkzeug's loop returns on Ctrl-C; SIGTERM is made to stop it the same way.
        # Leaving the with-block then stops everything else.
        previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            server.serve_forever()
        finally:
            signal.signal(signal.SIGTERM, previous)
    announce("Aixiang demo stopped.")
