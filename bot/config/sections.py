"""The configuration's sections: one frozen dataclass each, holding its defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from bot.config.errors import ConfigError
from models.broadcasts.records import AccountType
from models.db import Timeouts
from models.needs.queue import AckDeadlines

MEMORY_REDIS_URL = "memory://"
DEFAULT_SQLITE_URL = "sqlite:///instance/aixiang.db"


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = DEFAULT_SQLITE_URL
    # PostgreSQL's limits (models/db.py Timeouts): a server that accepts connections but
    # never answers fails a request or a command after connect_timeout_s instead of
    # hanging it; statement and lock limits are off (0) unless set.
    connect_timeout_s: int = Timeouts.connect_s
    statement_timeout_s: float = Timeouts.statement_s
    lock_timeout_s: float = Timeouts.lock_s

    @property
    def timeouts(self) -> Timeouts:
        return Timeouts(self.connect_timeout_s, self.statement_timeout_s, self.lock_timeout_s)


@dataclass(frozen=True)
class RedisConfig:
    url: str = MEMORY_REDIS_URL


@dataclass(frozen=True)
class WeChatConfig:
    token: str = ""
    app_id: str = ""
    app_secret: str = ""
    encoding_aes_key: str = ""
    api_base_url: str = "https://api.weixin.qq.com/cgi-bin/"
    account_type: str = AccountType.SERVICE
    timestamp_tolerance_s: int = 300
    http_timeout_s: float = 5.0


@dataclass(frozen=True)
class BotConfig:
    timezone: str = "Asia/Shanghai"
    default_language: str = "zh"
    flow_ttl_s: int = 1800
    reply_cache_ttl_s: int = 60
    # A file holding how far the clock runs ahead of real time (the demo's, which its chat
    # page moves); empty means real time. See bot/services.py ``clock_for``.
    clock_offset_file: str = ""
    # Where deliveries wait while PostgreSQL is down (bot/spool.py): a local disk.
    spool_dir: str = "instance/spool"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class MenuButton:
    name: str
    key: str = ""
    url: str = ""
    sub_buttons: tuple[MenuButton, ...] = ()


DEFAULT_MENU: tuple[MenuButton, ...] = (
    MenuButton(
        name="活动",
        sub_buttons=(
            MenuButton(name="近期活动", key="EVENTS"),
            MenuButton(name="我的活动", key="MY_EVENTS"),
        ),
    ),
    MenuButton(
        name="需求",
        sub_buttons=(
            MenuButton(name="提交需求", key="NEED_NEW"),
            MenuButton(name="我的需求", key="MY_NEEDS"),
        ),
    ),
    MenuButton(name="帮助", key="HELP"),
)


@dataclass(frozen=True)
class MenuConfig:
    buttons: tuple[MenuButton, ...] = DEFAULT_MENU


@dataclass(frozen=True)
class NeedCategory:
    """A need category: ``key`` is what the database stores, the names what residents see."""

    key: str
    zh: str
    en: str
    # Days a need of this category may wait for acknowledgement before the console's
    # queue shows it over time; None takes console.ack_days.
    ack_days: int | None = None


DEFAULT_NEED_CATEGORIES: tuple[NeedCategory, ...] = (
    NeedCategory("education", "教育", "education"),
    NeedCategory("environment", "环境卫生", "environment and waste"),
    NeedCategory("infrastructure", "基础设施", "infrastructure"),
    NeedCategory("jobs", "就业技能", "jobs and skills"),
    NeedCategory("elderly_children", "老人儿童", "elderly and children"),
    NeedCategory("other", "其他", "other"),
)


@dataclass(frozen=True)
class NeedsConfig:
    categories: tuple[NeedCategory, ...] = DEFAULT_NEED_CATEGORIES
    media_dir: str = "instance/media"
    max_photos: int = 3
    max_text: int = 1000


@dataclass(frozen=True)
class PushTemplate:
    """A WeChat template (or subscription-notice template) for one kind of push.

    ``fields`` maps the template's field names to format strings over the push's values,
    e.g. ("keyword1", "{title}"); ``{text}`` is the whole message in the resident's language.
    """

    template_id: str
    fields: tuple[tuple[str, str], ...]
    url: str = ""


@dataclass(frozen=True)
class PushConfig:
    reminder_offsets_h: tuple[float, ...] = (24.0, 2.0)
    max_attempts: int = 6
    backoff_base_s: float = 30.0
    backoff_max_s: float = 3600.0
    # Sends per second across all workers; 0 turns the limit off.
    rate_per_s: float = 20.0
    lease_s: int = 120
    batch_size: int = 100
    worker_threads: int = 8
    # Staff digest: local time of day, and who gets it.
    digest_time: str = "08:00"
    digest_openids: tuple[str, ...] = ()
    templates: Mapping[str, PushTemplate] = field(default_factory=dict)
    subscribe_templates: Mapping[str, PushTemplate] = field(default_factory=dict)


@dataclass(frozen=True)
class ConsoleConfig:
    """The staff console's sessions and sign-in. ``secret_key`` signs the session cookie:
    ``aixiang serve`` refuses to start without one (the demo makes one per run), since a
    key anyone can read lets anyone forge a signed-in session."""

    secret_key: str = ""
    # True behind HTTPS: the browser then sends the cookie over HTTPS only.
    secure_cookies: bool = False
    # A session unused this long is signed out.
    idle_minutes: int = 30
    # Failed sign-ins that lock a login name, and an address, for lockout_minutes.
    lockout_failures: int = 5
    lockout_address_failures: int = 20
    lockout_minutes: int = 15
    # Reverse proxies in front of the console, each adding the address it saw to
    # X-Forwarded-For: the sign-in lockout counts failures by the address the nearest
    # of them reports. 0 (no proxy) uses the connection's own address, since the header
    # could then be anything a client chose.
    proxy_hops: int = 0
    # Days a need may wait unacknowledged before the needs queue shows it over time
    # (a category's own ack_days in [[needs.categories]] wins).
    ack_days: int = 3
    # The map tiles a need's page shows its place on ({z}/{x}/{y} in Leaflet's form, e.g.
    # a county office's own tile server); empty shows the coordinates and WeChat's place
    # label instead of a map that cannot load.
    map_tile_url: str = ""
    map_attribution: str = ""
    # The console's address as people open it (e.g. https://aixiang.example.org/): links
    # sent on WeChat (the weekly report's link to the dashboard) start with it; empty
    # leaves such links out.
    public_url: str = ""

    def ack_days_by_category(self, categories: tuple[NeedCategory, ...]) -> dict[str, int]:
        """Each category's days to acknowledge, its own or the console's."""
        return {c.key: self.ack_days if c.ack_days is None else c.ack_days for c in categories}


@dataclass(frozen=True)
class ReportsConfig:
    """The weekly report pushed to the console accounts that asked for it: the local
    day and time it is due. It covers the seven local days before that day."""

    weekly_day: str = "monday"
    weekly_time: str = "08:30"


@dataclass(frozen=True)
class ExportsConfig:
    """The console's and the CLI's exports (scheduler/exports/): an export of more rows than
    ``background_rows`` runs as a job in the scheduler's process, its file written to
    ``dir`` and kept ``keep_hours``; ``batch_rows`` rows are read from the database at a
    time."""

    background_rows: int = 10_000
    keep_hours: int = 24
    batch_rows: int = 2_000
    dir: str = "instance/exports"


@dataclass(frozen=True)
class Config:
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    redis: RedisConfig = field(default_factory=RedisConfig)
    wechat: WeChatConfig = field(default_factory=WeChatConfig)
    bot: BotConfig = field(default_factory=BotConfig)
    menu: MenuConfig = field(default_factory=MenuConfig)
    needs: NeedsConfig = field(default_factory=NeedsConfig)
    push: PushConfig = field(default_factory=PushConfig)
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    reports: ReportsConfig = field(default_factory=ReportsConfig)
    exports: ExportsConfig = field(default_factory=ExportsConfig)

    def require_wechat_credentials(self) -> None:
        """Stop a process that talks to WeChat when the credentials it needs are absent."""
        for key in ("token", "app_id", "app_secret"):
            if not getattr(self.wechat, key):
                raise ConfigError(
                    f"wechat.{key} is required (set it in config.toml or "
                    f"AIXIANG_WECHAT_{key.upper()})"
                )

    def require_console_secret(self) -> None:
        """Stop a process that serves the console when it has no key to sign sessions."""
        if not self.console.secret_key:
            raise ConfigError(
                "console.secret_key is required (set it in config.toml or "
                "AIXIANG_CONSOLE_SECRET_KEY; e.g. python -c 'import secrets; "
                "print(secrets.token_hex(32))')"
            )

    def sends_templates_of(self, kind: str) -> bool:
        """Whether template messages may carry pushes of ``kind``: only a service
        account sends them, and only for a kind with a template configured. The worker
        plans by it and the console's inbox tells staff by it."""
        return self.wechat.account_type == AccountType.SERVICE and kind in self.push.templates

    @property
    def ack_deadlines(self) -> AckDeadlines:
        """Days a need of each category may wait for acknowledgement: the needs queue's
        "over time", and the over-deadline figures of the dashboard and the weekly report."""
        return AckDeadlines(
            self.console.ack_days_by_category(self.needs.categories), self.console.ack_days
        )

    @property
    def uses_embedded_redis(self) -> bool:
        return self.redis.url == MEMORY_REDIS_URL


SCALAR_SECTIONS: dict[str, type] = {
    "database": DatabaseConfig,
    "redis": RedisConfig,
    "wechat": WeChatConfig,
    "bot": BotConfig,
    "needs": NeedsConfig,
    "push": PushConfig,
    "console": ConsoleConfig,
    "reports": ReportsConfig,
    "exports": ExportsConfig,
}
