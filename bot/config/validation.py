"""What each setting may be, checked once the configuration is built."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from redis.connection import parse_url
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from bot.config.errors import ConfigError
from bot.config.sections import (
    MEMORY_REDIS_URL,
    Config,
    ConsoleConfig,
    PushConfig,
    ReportsConfig,
    WeChatConfig,
)
from models.broadcasts.records import AccountType
from models.reports.week import Weekday
from texts.catalog import LANGUAGES


def validate(config: Config) -> None:
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
    if not config.exports.dir.strip():
        raise ConfigError("exports.dir must name a folder")
    _validate_ranges(config)
    _validate_console(config.console)
    _validate_push(config.push)
    _validate_reports(config.reports)
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
    "console.ack_days": Range(1, 365, "days"),
    "exports.background_rows": Range(0, 100_000_000, "rows (0 runs every export as a job)"),
    "exports.keep_hours": Range(1, 24 * 365, "hours"),
    "exports.batch_rows": Range(100, 100_000, "rows"),
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
    if not is_http_url(wechat.api_base_url):
        raise ConfigError("wechat.api_base_url must be an http:// or https:// URL with a host")


def is_http_url(text: str) -> bool:
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
TIME_OF_DAY = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


def _validate_console(console: ConsoleConfig) -> None:
    key = console.secret_key
    if key and len(key) < MIN_SECRET_KEY_CHARS:
        raise ConfigError(
            f"console.secret_key must be at least {MIN_SECRET_KEY_CHARS} characters, got {len(key)}"
        )
    if key != key.strip():
        raise ConfigError("console.secret_key has spaces or a line break at its start or end")
    if console.public_url and not is_http_url(console.public_url):
        raise ConfigError(
            "console.public_url must be empty or an http:// or https:// URL with a host, "
            f"got {console.public_url!r}"
        )


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
    if not TIME_OF_DAY.fullmatch(push.digest_time):
        raise ConfigError(f"push.digest_time must be HH:MM, got {push.digest_time!r}")


def _validate_reports(reports: ReportsConfig) -> None:
    if reports.weekly_day not in tuple(Weekday):
        days = ", ".join(Weekday)
        raise ConfigError(f"reports.weekly_day must be one of {days}, got {reports.weekly_day!r}")
    if not TIME_OF_DAY.fullmatch(reports.weekly_time):
        raise ConfigError(f"reports.weekly_time must be HH:MM, got {reports.weekly_time!r}")
