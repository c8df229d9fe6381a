"""``aixiang demo``: the whole bot on one machine, with nothing to install or configure.

One process runs the fake WeChat API (in a thread) and one web server holding the real
webhook at /wechat and the chat simulator at /. Storage is the embedded default (SQLite at
instance/aixiang.db, the in-process Redis substitute), and the WeChat credentials are made
up afresh for every run, so the demo ships no secret that anyone could reuse; the run's
config is written beside the database for staff commands (bot/demo/state.py). The staff
console is at /console/: each run gives the demo admin a new random password, printed once
in the terminal, and signs sessions with a key made for the run (no default password or
key anywhere).
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
from bot.cli.actors import os_user
from bot.config.loader import load_config
from bot.config.sections import DEFAULT_SQLITE_URL, MEMORY_REDIS_URL, Config
from bot.demo.loops import DemoBackground
from bot.demo.seed import seed_demo_events, seed_demo_tags, seed_demo_villages
from bot.demo.simulator.blueprint import install_simulator
from bot.demo.simulator.clock import SimulatedClock
from bot.demo.state import CLOCK_FILE, MEDIA_FOLDER, DemoFiles, write_demo_config
from bot.demo.templates import push_templates_setting
from bot.ports import ensure_port_free
from bot.webhook_services import WebhookServices, build_webhook_services
from bot.wechat.fake_api.app import API_PREFIX
from bot.wechat.fake_api.server import FakeWeChatServer
from bot.wechat.payloads import WeChatPayloads
from models import migrate
from models.accounts.operations import create_account, set_password
from models.accounts.queries import find_account
from models.accounts.roles import Role
from models.broadcasts.records import AccountType
from models.residents import get_or_create_resident

DEMO_HOST = "127.0.0.1"
DEMO_ADMIN = "demo-admin"
DEMO_ADMIN_NAME = "演示管理员 Demo admin"


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


def demo_config(
    credentials: DemoCredentials,
    api_base_url: str,
    *,
    subscription: bool = False,
    public_url: str = "",
) -> Config:
    """The config file and environment, with storage forced to the embedded defaults and
    WeChat to this run's account at the fake API: the demo never touches a real database,
    media folder, Redis or WeChat account, whatever config.toml says. Menu and bot settings
    still apply, so the demo previews them.

    The account is a service account with a template for every push kind, as the club's
    is meant to be; ``subscription`` makes it a subscription account, which has none, so
    a push to someone who has not written for 48 hours waits for their next message.
    ``public_url`` is the demo's own address, which the weekly report links under.
    """
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
                "account_type": AccountType.SUBSCRIPTION if subscription else AccountType.SERVICE,
            },
            "bot": {"clock_offset_file": CLOCK_FILE},
            "needs": {"media_dir": MEDIA_FOLDER},
            "push": {"templates": {} if subscription else push_templates_setting()},
            "console": {"secret_key": secrets.token_hex(32), "public_url": public_url},
        },
        running_demo=False,
    )


def seed_demo_data(db: Session, now: datetime) -> None:
    """Give the demo people to play and events to sign up for; running it again adds
    nothing."""
    for person in DEMO_RESIDENTS:
        resident = get_or_create_resident(db, person.openid, now)
        if resident.name is None:
            resident.name = person.name
            resident.language = person.language
    seed_demo_tags(db, os_user(), now)
    seed_demo_events(db, now)
    seed_demo_villages(db, os_user(), now)


def ensure_demo_admin(db: Session, now: datetime) -> str:
    """The demo admin's password for this run: the account is made on the first run and
    given a new random password on every run (audited as the person running the demo)."""
    password = secrets.token_urlsafe(12)
    admin = find_account(db, DEMO_ADMIN)
    if admin is None:
        create_account(
            db,
            os_user(),
            login=DEMO_ADMIN,
            role=Role.ADMIN,
            password=password,
            now=now,
            display_name=DEMO_ADMIN_NAME,
        )
    else:
        set_password(db, os_user(), admin, password, now)
    return password


def prepare_database(services: WebhookServices) -> str:
    """Bring the schema up to date and seed the demo data, in one transaction; the demo
    admin's password for this run comes back."""
    migrate.upgrade(
        services.config.database.url,
        connect_timeout_s=services.config.database.connect_timeout_s,
    )
    with services.session_factory() as db, db.begin():
        seed_demo_data(db, services.clock())
        return ensure_demo_admin(db, services.clock())


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
        if self.path.startswith("/sim/api/thread") and str(code) == "200":
            return
        super().log_request(code, size)


def run_demo(
    port: int = 8000,
    fake_port: int = 8001,
    announce: Callable[[str], None] = print,
    *,
    fresh: bool = False,
    subscription: bool = False,
) -> None:
    """Run the demo in the foreground until Ctrl-C; ``fresh`` first deletes what earlier
    runs left (bot/demo/state.py), ``subscription`` see :func:`demo_config`.

    Everything that runs beside the web server is entered on ``running``, which stops it
    in reverse order on the way out: the fake WeChat API and, once the database is ready,
    the run's config file for staff commands, the outbox worker and the scheduler's jobs.
    """
    if port == fake_port:
        raise DemoError(f"the demo and the fake WeChat API cannot share port {port}")
    credentials = DemoCredentials.generate()
    ensure_port_free(DEMO_HOST, port, "--port")
    ensure_port_free(DEMO_HOST, fake_port, "--fake-port")
    config = demo_config(
        credentials,
        f"http://{DEMO_HOST}:{fake_port}{API_PREFIX}",
        subscription=subscription,
        public_url=f"http://{DEMO_HOST}:{port}/",
    )
    files = DemoFiles.of(config)
    if fresh:
        announce(
            f"Starting afresh: deleting the demo's database, media and state in {files.folder}"
        )
        files.delete()
    files.folder.mkdir(parents=True, exist_ok=True)
    clock = SimulatedClock(files.clock)
    with ExitStack() as running:
        fake = running.enter_context(
            FakeWeChatServer(
                DEMO_HOST,
                fake_port,
                credentials.app_id,
                credentials.app_secret,
                call_log=files.call_log,
                clock=lambda: clock().timestamp(),
            )
        )
        services = build_webhook_services(config, clock)
        running.callback(services.close)
        server = make_server(
            DEMO_HOST,
            port,
            build_demo_app(services, fake.root_url),
            threaded=True,
            request_handler=_DemoRequestHandler,
        )
        running.callback(server.server_close)
        admin_password = prepare_database(services)
        write_demo_config(files.config, config)
        running.callback(files.config.unlink, missing_ok=True)
        # Background loops start here, each entered on ``running`` so that they stop too.
        running.enter_context(DemoBackground(services))
        announce(
            f"Aixiang demo: open http://{DEMO_HOST}:{port}/ to chat as a resident.\n"
            f"  staff console  http://{DEMO_HOST}:{port}/console/  sign in as {DEMO_ADMIN}, "
            f"password {admin_password} (new each run, shown only here)\n"
            f"  webhook        http://{DEMO_HOST}:{port}/wechat\n"
            f"  fake WeChat    {fake.base_url} (calls: {fake.root_url}/_fake/calls)\n"
            f"  database       {services.config.database.url}; Redis in-process\n"
            f"  account        {config.wechat.account_type} account {credentials.app_id}, "
            "made up for this run\n"
            f"  staff commands read {files.config} while the demo runs\n"
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
