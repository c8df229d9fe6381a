"""Configuration: built-in defaults < TOML file < ``AIXIANG_<SECTION>_<KEY>`` environment.

One loader, one precedence, one validation pass. A person's mistake (a typo in a key, a
bad value) becomes a :class:`ConfigError` whose message is a single line naming the key,
so the CLI can print it instead of a traceback.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from redis.connection import parse_url
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from models.broadcasts.records import AccountType
from models.db import Timeouts

# What each push kind's templates may show: models/ declares it, its builders are held to it.
from models.push.registry import TEMPLATE_VALUES
from texts.catalog import LANGUAGES

log = logging.getLogger(__name__)

ENV_PREFIX = "AIXIANG_"
# Environment names under the prefix that are not settings.
ENV_NOT_SETTINGS = frozenset({"AIXIANG_CONFIG"})
ENV_IGNORED_PREFIXES = ("AIXIANG_TEST_", "AIXIANG_BENCH_")

MEMORY_REDIS_URL = "memory://"
DEFAULT_SQLITE_URL = "sqlite:///instance/aixiang.db"
# Where relative paths (the embedded database, media) are read from when no config file
# names them: the project's folder, so a command works the same from any folder.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The config a running `aixiang demo` writes beside its database (bot/demo/state.py), read
# when no other config file is given, so staff commands reach the demo as it runs.
RUNNING_DEMO_CONFIG = PROJECT_ROOT / "instance" / "demo.toml"


class ConfigError(Exception):
    """A setting is missing or invalid; the message names the key and what is wrong."""


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
}


def load_config(
    path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    read_file: bool = True,
    running_demo: bool = True,
) -> Config:
    """Build the validated configuration.

    ``path`` defaults to ``AIXIANG_CONFIG``, else ``./config.toml`` when it exists, else
    the running demo's config (unless ``running_demo`` is False: the demo itself must not
    read the one a previous run left); ``overrides`` (section -> key -> value) win over
    everything and exist for tests, which also pass ``read_file=False`` so a developer's
    config.toml cannot leak in.
    """
    env = os.environ if environ is None else environ
    raw: dict[str, dict[str, Any]] = {}
    config_path = _config_path(path, env, running_demo) if read_file else None
    if config_path is not None:
        _merge(raw, _read_toml(config_path))
    _merge(raw, _from_environment(env))
    if overrides:
        _merge(raw, {section: dict(values) for section, values in overrides.items()})
    return _anchor_paths(_build(raw), config_path.parent if config_path else PROJECT_ROOT)


def _anchor_paths(config: Config, folder: Path) -> Config:
    """Relative paths made absolute from ``folder`` (the config file's, else the
    project's), never from the current folder: a staff command run elsewhere would
    otherwise find no tables, or create an empty database file where it stands."""
    database_url = config.database.url
    url = make_url(database_url)
    path = url.database
    if (
        url.get_backend_name() == "sqlite"
        and path
        and path != ":memory:"
        and not path.startswith("file:")
        and not Path(path).is_absolute()
    ):
        database_url = url.set(database=str(folder / path)).render_as_string(hide_password=False)
    media = Path(config.needs.media_dir)
    spool = Path(config.bot.spool_dir)
    clock_file = Path(config.bot.clock_offset_file)
    if config.bot.clock_offset_file and not clock_file.is_absolute():
        config = replace(
            config, bot=replace(config.bot, clock_offset_file=str(folder / clock_file))
        )
    return replace(
        config,
        bot=replace(config.bot, spool_dir=str(spool if spool.is_absolute() else folder / spool)),
        database=replace(config.database, url=database_url),
        needs=replace(
            config.needs, media_dir=str(media if media.is_absolute() else folder / media)
        ),
    )


def _config_path(
    path: str | os.PathLike[str] | None, env: Mapping[str, str], running_demo: bool
) -> Path | None:
    if path is not None:
        return Path(path)
    if env.get("AIXIANG_CONFIG"):
        return Path(env["AIXIANG_CONFIG"])
    default = Path("config.toml")
    if default.exists():
        return default
    return RUNNING_DEMO_CONFIG if running_demo and RUNNING_DEMO_CONFIG.exists() else None


def _read_toml(path: Path) -> dict[str, Any]:
    """The settings in the file at ``path``; whatever makes it unusable (absent, a folder,
    unreadable, not UTF-8 as TOML requires, not TOML) is one line naming the path."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a folder, not a file") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {path} is not UTF-8 text (byte {exc.start + 1}); TOML files are "
            "UTF-8: save it as UTF-8"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _from_environment(env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name in ENV_NOT_SETTINGS:
            continue
        if name.startswith(ENV_IGNORED_PREFIXES):
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("_")
        if section not in SCALAR_SECTIONS or not key:
            log.warning("ignoring environment variable %s: no such setting", name)
            continue
        found.setdefault(section, {})[key] = value
    return found


def _merge(into: dict[str, dict[str, Any]], new: Mapping[str, Any]) -> None:
    for section, values in new.items():
        if not isinstance(values, Mapping):
            raise ConfigError(f"{section} must be a table of settings, not a single value")
        into.setdefault(section, {}).update(values)


def _build(raw: dict[str, dict[str, Any]]) -> Config:
    sections: dict[str, Any] = {}
    for section, values in raw.items():
        if section == "menu":
            sections["menu"] = _build_menu(values)
        elif section == "needs":
            sections["needs"] = _build_needs(values)
        elif section == "push":
            sections["push"] = _build_push(values)
        elif section in SCALAR_SECTIONS:
            sections[section] = _build_section(section, SCALAR_SECTIONS[section], values)
        else:
            log.warning("ignoring unknown config section [%s]", section)
    config = replace(Config(), **sections)
    _validate(config)
    return config


def _build_section(section: str, cls: type, values: Mapping[str, Any]) -> Any:
    known = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    defaults = cls()
    for key, value in values.items():
        if key not in known:
            log.warning("ignoring unknown setting %s.%s", section, key)
            continue
        kwargs[key] = _coerce(f"{section}.{key}", value, getattr(defaults, key))
    return cls(**kwargs)


def _coerce(name: str, value: Any, default: Any) -> Any:
    """Turn a TOML or environment value into the default's type, or say why not."""
    expected = type(default)
    if expected is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{name} must be true or false, got {value!r}")
    if expected is int:
        return _whole_number(name, value)
    if expected is float:
        if isinstance(value, bool):
            raise ConfigError(f"{name} must be a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be text, got {value!r}")
    return value


def _whole_number(name: str, value: Any) -> int:
    """An integer setting: ``int()`` would truncate 1.5 silently and raise OverflowError on
    ``inf``, so anything but a whole number is refused here, by name."""
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            value = _coerce(name, value, 0.0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    if isinstance(value, float) and not value.is_integer():
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    return int(value)


# WeChat refuses larger menus only when `aixiang menu push` sends one; the simulator would
# show it all the same, so the limits are checked here.
MENU_MAX_BUTTONS = 3
MENU_MAX_SUB_BUTTONS = 5


def _build_menu(values: Mapping[str, Any]) -> MenuConfig:
    buttons = values.get("button")
    if buttons is None:
        return MenuConfig()
    if not isinstance(buttons, list) or not buttons:
        raise ConfigError("menu.button must be a non-empty list of [[menu.button]] tables")
    if len(buttons) > MENU_MAX_BUTTONS:
        raise ConfigError(f"menu.button: WeChat menus have at most {MENU_MAX_BUTTONS} buttons")
    return MenuConfig(
        buttons=tuple(_menu_button(b, f"menu.button[{i}]", 1) for i, b in enumerate(buttons))
    )


def _menu_button(raw: Any, where: str, depth: int) -> MenuButton:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be a table")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}.name is required")
    subs = raw.get("sub_button", [])
    if not isinstance(subs, list):
        raise ConfigError(f"{where}.sub_button must be a list of [[{where}.sub_button]] tables")
    if subs and depth > 1:
        raise ConfigError(f"{where}.sub_button: WeChat menus have only two levels")
    if len(subs) > MENU_MAX_SUB_BUTTONS:
        raise ConfigError(f"{where}.sub_button: at most {MENU_MAX_SUB_BUTTONS} under a button")
    children = tuple(
        _menu_button(s, f"{where}.sub_button[{i}]", depth + 1) for i, s in enumerate(subs)
    )
    key = _coerce(f"{where}.key", raw.get("key", ""), "")
    url = _coerce(f"{where}.url", raw.get("url", ""), "")
    if not children and not (key or url):
        raise ConfigError(f"{where} needs a key (a CLICK button), a url, or sub_button entries")
    if url and not key and not _is_http_url(url):
        raise ConfigError(f"{where}.url must be an http:// or https:// address")
    return MenuButton(name=name, key=key, url=url, sub_buttons=children)


NEED_CATEGORY_KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def _build_needs(values: Mapping[str, Any]) -> NeedsConfig:
    """The [needs] settings; ``categories`` is a list of [[needs.categories]] tables."""
    scalars = {key: value for key, value in values.items() if key != "categories"}
    needs: NeedsConfig = _build_section("needs", NeedsConfig, scalars)
    if "categories" not in values:
        return needs
    raw = values["categories"]
    if not isinstance(raw, list) or not raw:
        raise ConfigError("needs.categories must be a non-empty list of {key, zh, en} tables")
    categories = tuple(_need_category(c, f"needs.categories[{i}]") for i, c in enumerate(raw))
    keys = [category.key for category in categories]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ConfigError(f"needs.categories: key {duplicates[0]!r} is used twice")
    return replace(needs, categories=categories)


def _need_category(raw: Any, where: str) -> NeedCategory:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be a table with key, zh and en")
    texts: dict[str, str] = {}
    for name in ("key", "zh", "en"):
        value = raw.get(name)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}.{name} is required")
        texts[name] = value.strip()
    if not NEED_CATEGORY_KEY.match(texts["key"]):
        raise ConfigError(f"{where}.key must be up to 32 of a-z, 0-9 and _, got {texts['key']!r}")
    return NeedCategory(**texts)


PUSH_LISTS = ("reminder_offsets_h", "digest_openids")
PUSH_TABLES = ("templates", "subscribe_templates")


def _build_push(values: Mapping[str, Any]) -> PushConfig:
    """The [push] settings: scalars, two lists, and [push.templates.<kind>] tables."""
    scalars = {k: v for k, v in values.items() if k not in PUSH_LISTS + PUSH_TABLES}
    push: PushConfig = _build_section("push", PushConfig, scalars)
    changes: dict[str, Any] = {}
    if "reminder_offsets_h" in values:
        offsets = _list(values["reminder_offsets_h"], "push.reminder_offsets_h")
        changes["reminder_offsets_h"] = tuple(
            _coerce("push.reminder_offsets_h", o, 1.0) for o in offsets
        )
    if "digest_openids" in values:
        openids = _list(values["digest_openids"], "push.digest_openids")
        changes["digest_openids"] = tuple(_coerce("push.digest_openids", o, "") for o in openids)
    for table in PUSH_TABLES:
        if table in values:
            changes[table] = _push_templates(values[table], f"push.{table}")
    return replace(push, **changes)


def _list(value: Any, name: str) -> list[Any]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list):
        raise ConfigError(f"{name} must be a list")
    return value


TEMPLATE_KEYS = frozenset({"template_id", "fields", "url"})


def _push_templates(raw: Any, where: str) -> dict[str, PushTemplate]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be tables named by push kind, e.g. [{where}.reminder]")
    return {kind: _push_template(kind, spec, f"{where}.{kind}") for kind, spec in raw.items()}


def _push_template(kind: str, spec: Any, name: str) -> PushTemplate:
    """One [push.templates.<kind>] table; every field's format string is checked against
    the values its kind carries, so no push fails later in the worker."""
    if kind not in TEMPLATE_VALUES:
        raise ConfigError(f"{name}: no push kind {kind!r}; kinds: {', '.join(TEMPLATE_VALUES)}")
    template_id = spec.get("template_id") if isinstance(spec, Mapping) else None
    if not isinstance(template_id, str) or not template_id.strip():
        raise ConfigError(f"{name}.template_id is required")
    for key in set(spec) - TEMPLATE_KEYS:
        log.warning("ignoring unknown setting %s.%s", name, key)
    fields_spec = spec.get("fields", {})
    if not isinstance(fields_spec, Mapping) or not fields_spec:
        raise ConfigError(
            f'{name}.fields must map template fields to text, e.g. {{ keyword1 = "{{title}}" }}'
        )
    pairs = tuple(
        (str(field_name), _template_field(kind, f"{name}.fields.{field_name}", pattern))
        for field_name, pattern in fields_spec.items()
    )
    url = _coerce(f"{name}.url", spec.get("url", ""), "")
    return PushTemplate(template_id=template_id, fields=pairs, url=url)


def _template_field(kind: str, name: str, pattern: Any) -> str:
    """A format string over the kind's values: plain ``{name}`` placeholders only, since a
    format spec or conversion (``{title:d}``) can fail on one push's value and not another's."""
    text: str = _coerce(name, pattern, "")
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ConfigError(
            f"{name} is not a valid format string ({exc}); write {{{{ and }}}} for braces"
        ) from None
    for _, placeholder, spec, conversion in parts:
        if placeholder is None:
            continue
        if spec or conversion:
            raise ConfigError(f"{name}: write {{{placeholder}}} with no format spec or conversion")
        if placeholder not in TEMPLATE_VALUES[kind]:
            values = ", ".join(f"{{{v}}}" for v in sorted(TEMPLATE_VALUES[kind]))
            raise ConfigError(f"{name}: {kind} pushes have no {{{placeholder}}}, only {values}")
    return text


def _validate(config: Config) -> None:
    _validate_timezone(config.bot.timezone)
    if config.bot.default_language not in LANGUAGES:
        raise ConfigError("bot.default_language must be 'zh' or 'en'")
    if config.wechat.account_type not in tuple(AccountType):
        choices = " or ".join(repr(str(kind)) for kind in AccountType)
        raise ConfigError(
            f"wechat.account_type must be {choices}, got {config.wechat.account_type!r}"
        )
    _validate_wechat(config.wechat)
    if not 0 <= config.needs.max_photos <= 9:
        raise ConfigError("needs.max_photos must be between 0 and 9")
    if not config.needs.media_dir.strip():
        raise ConfigError("needs.media_dir must name a folder")
    _validate_ranges(config)
    _validate_console(config.console)
    _validate_push(config.push)
    _validate_database_url(config.database.url)
    _validate_redis_url(config.redis.url)


@dataclass(frozen=True)
class Range:
    """Where a number setting makes sense. The upper bounds keep values far from what
    breaks later (a timedelta overflows, Redis refuses an expiry) and name the unit."""

    low: float
    high: float
    unit: str


DAY_S = 86_400
NUMBER_RANGES: dict[str, Range] = {
    "database.connect_timeout_s": Range(1, 300, "seconds"),
    "database.statement_timeout_s": Range(0, DAY_S, "seconds (0 turns the limit off)"),
    "database.lock_timeout_s": Range(0, DAY_S, "seconds (0 turns the limit off)"),
    "wechat.timestamp_tolerance_s": Range(0, DAY_S, "seconds (0 turns the check off)"),
    "wechat.http_timeout_s": Range(0.1, 120, "seconds"),
    "bot.flow_ttl_s": Range(60, DAY_S, "seconds"),
    # WeChat re-sends an unanswered delivery for about 15 seconds.
    "bot.reply_cache_ttl_s": Range(15, 3600, "seconds"),
    "needs.max_text": Range(1, 10_000, "characters"),
    "push.max_attempts": Range(1, 100, "attempts"),
    "push.backoff_base_s": Range(1, DAY_S, "seconds"),
    "push.backoff_max_s": Range(1, DAY_S, "seconds"),
    "push.rate_per_s": Range(0, 1000, "sends a second (0 turns the limit off)"),
    "push.lease_s": Range(10, DAY_S, "seconds"),
    "push.batch_size": Range(1, 10_000, "rows"),
    "push.worker_threads": Range(1, 64, "threads"),
    "console.idle_minutes": Range(1, 7 * 24 * 60, "minutes"),
    "console.lockout_failures": Range(1, 1000, "failed sign-ins"),
    "console.lockout_address_failures": Range(1, 100_000, "failed sign-ins"),
    "console.lockout_minutes": Range(1, 24 * 60, "minutes"),
    "console.proxy_hops": Range(0, 10, "proxies"),
}
# Reminders at most a year before the event; more would be no reminder.
MAX_REMINDER_OFFSET_H = 8760


def _validate_ranges(config: Config) -> None:
    """Every number within its range; NaN fails every comparison, so it is refused too."""
    for name, bounds in NUMBER_RANGES.items():
        section, key = name.split(".")
        value = getattr(getattr(config, section), key)
        if not bounds.low <= value <= bounds.high:
            raise ConfigError(
                f"{name} must be at least {bounds.low:g} and at most {bounds.high:g} "
                f"{bounds.unit}, got {_shown(value)}"
            )


def _shown(value: float) -> str:
    """The number short, as a person wrote it: 1e+300, not the 301 digits of int(1e300)."""
    try:
        return f"{value:.12g}"
    except OverflowError:
        return f"a {len(str(value))}-digit number"


def _validate_wechat(wechat: WeChatConfig) -> None:
    """Values WeChat gives the operator, checked for the copy-and-paste slips that would
    otherwise fail every signature or decryption, or every outbound call, later."""
    for key in ("token", "app_id", "app_secret", "encoding_aes_key"):
        value = getattr(wechat, key)
        if value != value.strip():
            raise ConfigError(f"wechat.{key} has spaces or a line break at its start or end")
    key = wechat.encoding_aes_key
    if key and len(key) != 43:
        raise ConfigError(
            f"wechat.encoding_aes_key must be the 43 characters WeChat shows, got {len(key)}"
        )
    if key and not _is_aes_key(key):
        raise ConfigError("wechat.encoding_aes_key must be letters and digits, as WeChat shows it")
    if not _is_http_url(wechat.api_base_url):
        raise ConfigError("wechat.api_base_url must be an http:// or https:// URL with a host")


def _is_http_url(text: str) -> bool:
    """An http(s) URL requests can call: a host, and a port that is a number (``.port``
    raises ValueError for one that is not)."""
    try:
        url = urlsplit(text)
        return url.scheme in {"http", "https"} and bool(url.hostname) and url.port != 0
    except ValueError:
        return False


def _is_aes_key(key: str) -> bool:
    """Whether ``key`` decodes as WeChat's does (base64 of 32 bytes); wechatpy's decoder
    drops stray characters, leaving a short key that fails every decryption."""
    try:
        return len(base64.b64decode(key + "=", validate=True)) == 32
    except binascii.Error:
        return False


def _validate_timezone(name: str) -> None:
    """ZoneInfo raises more than ZoneInfoNotFoundError: IsADirectoryError for a region
    such as "Asia", ValueError for a path or a file that is not a zone."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError(f"bot.timezone: unknown time zone {name!r}") from None


def _validate_database_url(url: str) -> None:
    """Parse the URL and find its dialect now: SQLAlchemy would otherwise raise
    NoSuchModuleError or ValueError (a bad port) from the first engine, as a traceback."""
    try:
        make_url(url).get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        # The URL itself is not repeated: it may carry a password.
        raise ConfigError(f"database.url is not a database URL: {exc}") from None


def _validate_redis_url(url: str) -> None:
    """Parse the URL as redis-py will: a bad port or option would otherwise surface as a
    ValueError from the first connection."""
    if url == MEMORY_REDIS_URL:
        return
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(
            f"redis.url must start with redis://, rediss:// or unix://, or be {MEMORY_REDIS_URL}"
        )
    try:
        parse_url(url)
    except ValueError as exc:
        # The URL itself is not repeated: it may carry a password.
        raise ConfigError(f"redis.url is not a Redis URL: {exc}") from None


# Shorter keys can be guessed offline from one signed cookie.
MIN_SECRET_KEY_CHARS = 32


def _validate_console(console: ConsoleConfig) -> None:
    key = console.secret_key
    if key and len(key) < MIN_SECRET_KEY_CHARS:
        raise ConfigError(
            f"console.secret_key must be at least {MIN_SECRET_KEY_CHARS} characters, got {len(key)}"
        )
    if key != key.strip():
        raise ConfigError("console.secret_key has spaces or a line break at its start or end")


def _validate_push(push: PushConfig) -> None:
    for offset in push.reminder_offsets_h:
        if not 0 < offset <= MAX_REMINDER_OFFSET_H:
            raise ConfigError(
                "push.reminder_offsets_h must be hours before the event, each above 0 and at "
                f"most {MAX_REMINDER_OFFSET_H} (a year), got {offset!r}"
            )
    if push.backoff_base_s > push.backoff_max_s:
        raise ConfigError(
            f"push.backoff_base_s ({push.backoff_base_s:g}) must not exceed "
            f"push.backoff_max_s ({push.backoff_max_s:g})"
        )
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", push.digest_time):
        raise ConfigError(f"push.digest_time must be HH:MM, got {push.digest_time!r}")
