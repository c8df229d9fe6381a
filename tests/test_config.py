"""Configuration precedence and one-line errors for every bad setting."""

from __future__ import annotations

import logging
import re
from dataclasses import fields
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli.main import main
from bot.config.errors import ConfigError
from bot.config.loader import load_config
from bot.config.paths import PROJECT_ROOT
from bot.config.sections import SCALAR_SECTIONS
from bot.config.validation import NUMBER_RANGES


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_the_embedded_ones() -> None:
    config = load_config(environ={}, read_file=False)
    assert config.database.url == f"sqlite:///{PROJECT_ROOT}/instance/aixiang.db"
    assert config.needs.media_dir == f"{PROJECT_ROOT}/instance/media"
    assert config.redis.url == "memory://"
    assert config.uses_embedded_redis
    assert config.bot.timezone == "Asia/Shanghai"
    assert config.bot.default_language == "zh"
    assert config.wechat.timestamp_tolerance_s == 300
    assert [b.name for b in config.menu.buttons] == ["活动", "需求", "帮助"]


def test_file_overrides_defaults_and_environment_overrides_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[database]\nurl = "sqlite:///from-file.db"\n[wechat]\ntoken = "file-token"\n'
        "timestamp_tolerance_s = 60\n",
    )
    env = {"AIXIANG_DATABASE_URL": "postgresql://db/from-env", "AIXIANG_WECHAT_APP_ID": "wxenv"}
    config = load_config(path, environ=env)
    assert config.database.url == "postgresql://db/from-env"
    assert config.wechat.token == "file-token"
    assert config.wechat.app_id == "wxenv"
    assert config.wechat.timestamp_tolerance_s == 60


def test_aixiang_config_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[bot]\ndefault_language = "en"\n')
    config = load_config(environ={"AIXIANG_CONFIG": str(path)})
    assert config.bot.default_language == "en"


def test_environment_values_are_coerced() -> None:
    config = load_config(environ={"AIXIANG_WECHAT_TIMESTAMP_TOLERANCE_S": "0"}, read_file=False)
    assert config.wechat.timestamp_tolerance_s == 0


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AIXIANG_WECHAT_ACCOUNT_TYPE": "enterprise"}, "wechat.account_type"),
        ({"AIXIANG_WECHAT_TIMESTAMP_TOLERANCE_S": "soon"}, "wechat.timestamp_tolerance_s"),
        ({"AIXIANG_WECHAT_TIMESTAMP_TOLERANCE_S": "-1"}, "wechat.timestamp_tolerance_s"),
        ({"AIXIANG_WECHAT_ENCODING_AES_KEY": "short"}, "wechat.encoding_aes_key"),
        ({"AIXIANG_WECHAT_API_BASE_URL": "api.weixin.qq.com"}, "wechat.api_base_url"),
        ({"AIXIANG_BOT_TIMEZONE": "Mars/Olympus"}, "bot.timezone"),
        ({"AIXIANG_BOT_DEFAULT_LANGUAGE": "fr"}, "bot.default_language"),
        ({"AIXIANG_DATABASE_URL": "not a url"}, "database.url"),
        ({"AIXIANG_REDIS_URL": "http://127.0.0.1:6379"}, "redis.url"),
    ],
)
def test_invalid_values_name_the_key(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_config(environ=env, read_file=False)


def test_invalid_toml_is_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[database\nurl = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path, environ={})


def test_missing_file_named_by_aixiang_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(environ={"AIXIANG_CONFIG": str(tmp_path / "absent.toml")})


def test_wrong_type_in_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[wechat]\ntoken = 12\n")
    with pytest.raises(ConfigError, match=r"wechat\.token must be text"):
        load_config(path, environ={})


def test_unknown_keys_warn(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path, '[wechat]\ntokn = "typo"\n[nonsense]\na = 1\n')
    with caplog.at_level(logging.WARNING):
        load_config(path, environ={"AIXIANG_WECHAT_TOKNE": "x"})
    text = caplog.text
    assert "wechat.tokn" in text and "[nonsense]" in text and "wechat.tokne" in text


def test_menu_from_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[menu.button]]\nname = "活动"\nkey = "EVENTS"\n'
        '[[menu.button]]\nname = "更多"\n  [[menu.button.sub_button]]\n  name = "帮助"\n'
        '  key = "HELP"\n',
    )
    menu = load_config(path, environ={}).menu
    assert menu.buttons[0].key == "EVENTS"
    assert menu.buttons[1].sub_buttons[0].key == "HELP"


def test_menu_button_without_action_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, '[[menu.button]]\nname = "空"\n')
    with pytest.raises(ConfigError, match=r"menu\.button\[0\] needs a key"):
        load_config(path, environ={})


def test_missing_credentials_are_named() -> None:
    config = load_config(environ={"AIXIANG_WECHAT_TOKEN": "t"}, read_file=False)
    with pytest.raises(ConfigError, match=r"wechat\.app_id is required"):
        config.require_wechat_credentials()


def test_cli_reports_bad_config_in_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        main, ["db", "upgrade"], env={"AIXIANG_BOT_TIMEZONE": "Nowhere/Else", "AIXIANG_CONFIG": ""}
    )
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: config: bot.timezone: unknown time zone 'Nowhere/Else'"
    ]


@pytest.mark.parametrize(
    ("url", "revision", "expected"),
    [
        (
            "postgresql://postgres:secretpw@127.0.0.1:1/aixiang",
            "head",
            "error: db upgrade: cannot reach the database: connection failed",
        ),
        ("sqlite:///{tmp}/aixiang.db", "nosuch", "error: db upgrade: Can't locate revision"),
    ],
    ids=["unreachable", "unknown-revision"],
)
def test_db_upgrade_failures_are_one_line(
    tmp_path: Path, url: str, revision: str, expected: str
) -> None:
    env = {"AIXIANG_CONFIG": "", "AIXIANG_DATABASE_URL": url.format(tmp=tmp_path)}
    result = CliRunner().invoke(main, ["db", "upgrade", "--revision", revision], env=env)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected), result.stderr
    assert "secretpw" not in result.output


def test_serve_refuses_missing_credentials() -> None:
    result = CliRunner().invoke(main, ["serve"], env={"AIXIANG_WECHAT_TOKEN": ""})
    assert result.exit_code == 2
    assert "wechat.token is required" in result.output
    assert "Traceback" not in result.output


def test_the_example_config_loads() -> None:
    example = Path(__file__).resolve().parent.parent / "config.example.toml"
    config = load_config(example, environ={})
    assert config.wechat.account_type == "service"
    assert config.needs.categories[0].key == "education"
    assert config.push.reminder_offsets_h == (24.0, 2.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[push]\nreminder_offsets_h = [24, 0]\n", "push.reminder_offsets_h"),
        ('[push]\ndigest_time = "8am"\n', "push.digest_time"),
        ("[push]\nmax_attempts = 0\n", "push.max_attempts"),
        ('[push.templates.reminder]\nfields = { a = "{text}" }\n', "template_id"),
        ('[push.templates.reminder]\ntemplate_id = "T"\n', "fields"),
    ],
)
def test_bad_push_settings(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_config(write(tmp_path, text), environ={})


def load_error(tmp_path: Path, toml: str = "", env: dict[str, str] | None = None) -> str:
    """The ConfigError message for this file and environment, checked to be one line."""
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, toml), environ=env or {})
    message = str(error.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        # ZoneInfo raises IsADirectoryError for a region, not ZoneInfoNotFoundError.
        ('[bot]\ntimezone = "Asia"\n', {}, "bot.timezone: unknown time zone 'Asia'"),
        # sub_button that is not a list was iterated: TypeError.
        ('[[menu.button]]\nname = "x"\nsub_button = 5\n', {}, r"menu.button\[0\].sub_button"),
        ('[[menu.button]]\nname = "x"\nkey = 5\n', {}, r"menu.button\[0\].key must be text"),
        ('[[menu.button]]\nname = "x"\nurl = true\n', {}, r"menu.button\[0\].url must be text"),
        # int(inf) is an OverflowError; int(120.5) silently dropped the half.
        ("[bot]\nflow_ttl_s = inf\n", {}, "bot.flow_ttl_s must be a whole number"),
        ("[push]\nlease_s = 120.5\n", {}, "push.lease_s must be a whole number"),
        ("", {"AIXIANG_PUSH_BATCH_SIZE": "12.5"}, "push.batch_size must be a whole number"),
        # SQLAlchemy and redis-py raised these from the first connection.
        ("", {"AIXIANG_DATABASE_URL": "foo://db"}, "database.url is not a database URL"),
        ("", {"AIXIANG_DATABASE_URL": "postgresql://h:port/db"}, "database.url"),
        ("", {"AIXIANG_REDIS_URL": "redis://h:port/0"}, "redis.url is not a Redis URL"),
        ("", {"AIXIANG_REDIS_URL": "memory://x"}, "redis.url must start with"),
    ],
)
def test_values_that_raised_elsewhere_are_one_line(
    tmp_path: Path, toml: str, env: dict[str, str], message: str
) -> None:
    assert re.search(message, load_error(tmp_path, toml, env))


def test_url_errors_do_not_repeat_the_password(tmp_path: Path) -> None:
    env = {"AIXIANG_DATABASE_URL": "postgresql://u:s3cret@h:port/db"}
    assert "s3cret" not in load_error(tmp_path, env=env)
    assert "s3cret" not in load_error(tmp_path, env={"AIXIANG_REDIS_URL": "redis://:s3cret@h:x"})


def test_cli_reports_an_unknown_database_dialect_in_one_line() -> None:
    result = CliRunner().invoke(
        main, ["db", "upgrade"], env={"AIXIANG_DATABASE_URL": "foo://db", "AIXIANG_CONFIG": ""}
    )
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: config: database.url is not a database URL: "
        "Can't load plugin: sqlalchemy.dialects:foo"
    ]


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        # Accepted before, then every reminders tick raised ValueError.
        ("[push]\nreminder_offsets_h = [nan]\n", {}, "push.reminder_offsets_h .* got nan"),
        ("[push]\nreminder_offsets_h = [24, inf]\n", {}, "push.reminder_offsets_h"),
        ("", {"AIXIANG_PUSH_REMINDER_OFFSETS_H": "24,nan"}, "push.reminder_offsets_h"),
        ("[push]\nreminder_offsets_h = [9000]\n", {}, "at most 8760 \\(a year\\)"),
        # Accepted before, then every worker batch raised OverflowError.
        ("[push]\nlease_s = 1e300\n", {}, r"push.lease_s .* at most 86400 seconds, got 1e\+300$"),
        ("[push]\nlease_s = 172800\n", {}, "push.lease_s"),
        ("[push]\nbackoff_base_s = nan\n", {}, "push.backoff_base_s"),
        ("[push]\nbackoff_base_s = -1.0\n", {}, "push.backoff_base_s"),
        ("[push]\nbackoff_max_s = inf\n", {}, "push.backoff_max_s"),
        ("[push]\nbackoff_base_s = 100.0\nbackoff_max_s = 50.0\n", {}, "must not exceed"),
        ("[push]\nrate_per_s = nan\n", {}, "push.rate_per_s"),
        ("[push]\nrate_per_s = inf\n", {}, "push.rate_per_s .* at most 1000"),
        ("[push]\nmax_attempts = 1000000\n", {}, "push.max_attempts"),
        ("[push]\nbatch_size = 1000000\n", {}, "push.batch_size"),
        ("", {"AIXIANG_PUSH_WORKER_THREADS": "1000"}, "push.worker_threads"),
        ("[wechat]\nhttp_timeout_s = nan\n", {}, "wechat.http_timeout_s"),
        ("", {"AIXIANG_WECHAT_HTTP_TIMEOUT_S": "inf"}, "wechat.http_timeout_s"),
        ("[wechat]\ntimestamp_tolerance_s = 10000000000\n", {}, "wechat.timestamp_tolerance_s"),
        ("[bot]\nflow_ttl_s = 1e12\n", {}, "bot.flow_ttl_s"),
        # Redis refuses a reply-cache expiry of 0 or less on every message.
        ("[bot]\nreply_cache_ttl_s = 0\n", {}, "bot.reply_cache_ttl_s"),
        ("", {"AIXIANG_BOT_REPLY_CACHE_TTL_S": "-5"}, "bot.reply_cache_ttl_s"),
        ("[bot]\nreply_cache_ttl_s = 1e15\n", {}, "bot.reply_cache_ttl_s"),
        ("[needs]\nmax_text = 1e12\n", {}, "needs.max_text must be at least 1 and at most"),
    ],
)
def test_numbers_out_of_range_name_the_key_and_the_bound(
    tmp_path: Path, toml: str, env: dict[str, str], message: str
) -> None:
    assert re.search(message, load_error(tmp_path, toml, env))


def test_every_number_setting_has_a_range() -> None:
    """A new number setting without bounds would let NaN or 1e300 through again."""
    bounded = set(NUMBER_RANGES) | {"needs.max_photos"}
    for section, cls in SCALAR_SECTIONS.items():
        for setting in fields(cls):
            if type(getattr(cls(), setting.name)) in (int, float):
                assert f"{section}.{setting.name}" in bounded


def test_the_largest_values_in_range_are_accepted(tmp_path: Path) -> None:
    text = "[push]\nlease_s = 86400\nreminder_offsets_h = [8760, 0.5]\nbackoff_max_s = 86400\n"
    push = load_config(write(tmp_path, text), environ={}).push
    assert (push.lease_s, push.reminder_offsets_h) == (86400, (8760.0, 0.5))


def template(fields: object, kind: str = "need_status", **extra: object) -> str:
    """A [push.templates.<kind>] table in TOML with these fields."""
    lines = [f"[push.templates.{kind}]", 'template_id = "T"', f"fields = {fields}"]
    lines += [f"{key} = {value}" for key, value in extra.items()]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        # Accepted before; every worker batch holding such a push then raised ValueError.
        (template('{ first = "{text" }'), "need_status.fields.first is not a valid format"),
        (template('{ first = "text}" }'), "need_status.fields.first is not a valid format"),
        # Accepted before; each push of the kind was then dead-lettered, or IndexError.
        (template('{ keyword1 = "{title}" }'), "need_status pushes have no {title}, only"),
        (template('{ keyword1 = "{}" }'), "need_status pushes have no {}"),
        (template('{ keyword1 = "{0}" }'), r"need_status pushes have no \{0\}"),
        (template('{ keyword1 = "{ref.upper}" }'), "no {ref.upper}"),
        (template('{ keyword1 = "{checkin_code}" }', "digest"), "digest pushes have no"),
        (template('{ keyword1 = "{status}" }', "reminder"), "reminder pushes have no {status}"),
        # A spec or conversion can fail on one push's value and not on another's.
        (template('{ keyword1 = "{ref:d}" }'), "write {ref} with no format spec"),
        (template('{ keyword1 = "{ref!x}" }'), "write {ref} with no format spec"),
        # A typo in the kind silently disabled the template.
        (template('{ first = "{text}" }', "need_stauts"), "no push kind 'need_stauts'"),
        (template("{ first = 5 }"), "need_status.fields.first must be text"),
        (template('{ first = "{text}" }', url="5"), "need_status.url must be text"),
        ('[push.templates.reminder]\ntemplate_id = " "\nfields = { a = "{text}" }\n', "required"),
        ('[push.subscribe_templates.promotion]\ntemplate_id = "S"\nfields = { a = "{x" }\n', "a"),
    ],
)
def test_bad_push_templates_are_one_line(tmp_path: Path, toml: str, message: str) -> None:
    error = load_error(tmp_path, toml)
    assert message in error or re.search(message, error)
    assert error.startswith("push.")


def test_templates_over_every_value_of_their_kind_are_accepted(tmp_path: Path) -> None:
    text = template(
        '{ first = "{text}", keyword1 = "{title} {{at}} {starts_at}", keyword2 = "{place}", '
        'keyword3 = "{checkin_code} {party_size} {event_id}" }',
        "promotion",
    ) + template('{ thing1 = "{ref}: {status_zh}/{status_en} {note} {changed_at}" }', "need_note")
    templates = load_config(write(tmp_path, text), environ={}).push.templates
    assert dict(templates["promotion"].fields)["keyword1"] == "{title} {{at}} {starts_at}"
    assert set(templates) == {"promotion", "need_note"}


def test_unknown_template_keys_warn(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        load_config(write(tmp_path, template('{ a = "{text}" }', feilds="1")), environ={})
    assert "push.templates.need_status.feilds" in caplog.text


def test_the_commented_example_templates_load(tmp_path: Path) -> None:
    """config.example.toml's template examples, uncommented, pass the checks they describe."""
    example = Path(__file__).resolve().parent.parent / "config.example.toml"
    commented = example.read_text(encoding="utf-8")
    text = re.sub(r"^# (\[push\.|template_id|fields|url)", r"\1", commented, flags=re.M)
    push = load_config(write(tmp_path, text), environ={}).push
    assert set(push.templates) == {"reminder"} and set(push.subscribe_templates) == {"need_status"}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        # wechatpy's base64 drops stray characters: a short key fails every decryption.
        (
            {"AIXIANG_WECHAT_ENCODING_AES_KEY": "abcdefghijklmnopqrstuvwxyz0123456789ABCD-!G"},
            "wechat.encoding_aes_key must be letters and digits",
        ),
        # A pasted newline or space fails every signature check.
        ({"AIXIANG_WECHAT_APP_SECRET": "secret\n"}, "wechat.app_secret has spaces"),
        ({"AIXIANG_WECHAT_TOKEN": " "}, "wechat.token has spaces"),
        # No host, or a port that is not a number: every outbound call failed.
        ({"AIXIANG_WECHAT_API_BASE_URL": "https://"}, "wechat.api_base_url must be"),
        ({"AIXIANG_WECHAT_API_BASE_URL": "https://h:port/cgi-bin/"}, "wechat.api_base_url"),
        ({"AIXIANG_WECHAT_API_BASE_URL": "http://[::1/cgi-bin/"}, "wechat.api_base_url"),
    ],
)
def test_wechat_values_that_would_fail_every_call(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    assert message in load_error(tmp_path, env=env)


def test_a_local_fake_api_url_is_accepted() -> None:
    env = {"AIXIANG_WECHAT_API_BASE_URL": "http://127.0.0.1:8001/cgi-bin/"}
    assert load_config(environ=env, read_file=False).wechat.api_base_url.endswith(":8001/cgi-bin/")


SUB = '[[menu.button.sub_button]]\nname = "s"\nkey = "HELP"\n'


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        # Accepted before; only `aixiang menu push` then failed, and the simulator showed it.
        ('[[menu.button]]\nname = "b"\nkey = "HELP"\n' * 4, "at most 3 buttons"),
        ('[[menu.button]]\nname = "b"\n' + SUB * 6, r"menu.button\[0\].sub_button: at most 5"),
        ('[[menu.button]]\nname = "b"\nurl = "example.org"\n', r"menu.button\[0\].url must be"),
    ],
)
def test_menus_wechat_refuses_stop_start_up(tmp_path: Path, toml: str, message: str) -> None:
    assert re.search(message, load_error(tmp_path, toml))


def test_the_largest_menu_is_accepted(tmp_path: Path) -> None:
    toml = '[[menu.button]]\nname = "b"\n' + SUB * 5
    toml += '[[menu.button]]\nname = "u"\nurl = "https://example.org/"\n' * 2
    menu = load_config(write(tmp_path, toml), environ={}).menu
    assert [len(b.sub_buttons) for b in menu.buttons] == [5, 0, 0]


UNREADABLE = {
    "a folder": (None, "is a folder, not a file"),
    "a binary file": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xd8", "is not UTF-8 text"),
    "GBK text": ('[bot]\ntimezone = "亚洲/上海"\n'.encode("gbk"), "is not UTF-8 text"),
    "not TOML": (b"<config><bot/></config>\n", "is not valid TOML"),
    "NUL in UTF-8": (b'[bot]\ntimezone = "A\x00"\n', "is not valid TOML"),
}


@pytest.mark.parametrize(("content", "reason"), UNREADABLE.values(), ids=UNREADABLE.keys())
def test_an_unreadable_config_file_is_one_line_naming_it(
    tmp_path: Path, content: bytes | None, reason: str
) -> None:
    path = tmp_path / "config.toml"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    with pytest.raises(ConfigError) as raised:
        load_config(environ={"AIXIANG_CONFIG": str(path)})
    assert str(raised.value).startswith(f"config file {path} {reason}")
    assert "\n" not in str(raised.value)
    result = CliRunner().invoke(main, ["needs", "list"], env={"AIXIANG_CONFIG": str(path)})
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == f"error: config: {raised.value}"
