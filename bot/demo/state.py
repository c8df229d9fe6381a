"""The demo's files, all in one data folder beside its database (``instance/``).

``aixiang.db`` and ``media/`` hold what residents and staff did; ``demo-clock.json`` how
far the page moved the clock; ``demo-calls.jsonl`` what the account sent (the fake WeChat
API's call log, from which the chat page rebuilds its pushes); ``demo.toml`` this run's
config, so staff commands reach the running demo: the config loader reads it when no
other config file is given (bot/config/paths.py ``RUNNING_DEMO_CONFIG``). ``aixiang demo
--fresh`` deletes them all.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.config.sections import Config, MenuButton

DATA_FOLDER = "instance"
CLOCK_FILE = f"{DATA_FOLDER}/demo-clock.json"
MEDIA_FOLDER = f"{DATA_FOLDER}/media"
CALL_LOG_NAME = "demo-calls.jsonl"
CONFIG_NAME = "demo.toml"
# SQLite's own files beside a database, which go with it.
SQLITE_SIDE_FILES = ("-journal", "-wal", "-shm")


@dataclass(frozen=True)
class DemoFiles:
    database: Path
    media: Path
    clock: Path

    @classmethod
    def of(cls, config: Config) -> DemoFiles:
        """The files of a config made by ``demo_config``, whose paths are absolute."""
        database = make_url(config.database.url).database
        if not database:
            raise ValueError("the demo's database is a SQLite file")
        return cls(Path(database), Path(config.needs.media_dir), Path(config.bot.clock_offset_file))

    @property
    def folder(self) -> Path:
        return self.database.parent

    @property
    def call_log(self) -> Path:
        return self.folder / CALL_LOG_NAME

    @property
    def config(self) -> Path:
        return self.folder / CONFIG_NAME

    def delete(self) -> None:
        """Everything a demo run leaves, so the next starts from an empty database."""
        shutil.rmtree(self.media, ignore_errors=True)
        for path in (
            self.database,
            *(self.database.with_name(self.database.name + s) for s in SQLITE_SIDE_FILES),
            self.clock,
            self.call_log,
            self.config,
        ):
            path.unlink(missing_ok=True)


def write_demo_config(path: Path, config: Config) -> None:
    """``config`` as a TOML file only its owner may read: it holds this run's secret."""
    partial = path.with_name(f"{path.name}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(demo_toml(config))
    os.replace(partial, path)


def demo_toml(config: Config) -> str:
    """The settings a staff command needs to act on the demo as the demo itself does."""
    wechat = config.wechat
    lines = [
        "# Written by `aixiang demo` for the run now going; removed when it stops.",
        "[database]",
        _pair("url", config.database.url),
        "[redis]",
        _pair("url", config.redis.url),
        "[wechat]",
        *(
            _pair(key, getattr(wechat, key))
            for key in (
                "token",
                "app_id",
                "app_secret",
                "encoding_aes_key",
                "api_base_url",
                "account_type",
            )
        ),
        "[bot]",
        _pair("timezone", config.bot.timezone),
        _pair("default_language", config.bot.default_language),
        _pair("clock_offset_file", config.bot.clock_offset_file),
        _pair("spool_dir", config.bot.spool_dir),
        "[needs]",
        _pair("media_dir", config.needs.media_dir),
    ]
    for category in config.needs.categories:
        lines += ["[[needs.categories]]", _pair("key", category.key)]
        lines += [_pair("zh", category.zh), _pair("en", category.en)]
    for kind, template in config.push.templates.items():
        fields = ", ".join(_pair(name, pattern) for name, pattern in template.fields)
        lines += [f"[push.templates.{_quoted(kind)}]", _pair("template_id", template.template_id)]
        lines += [f"fields = {{ {fields} }}", _pair("url", template.url)]
    lines += _menu_lines(config.menu.buttons, "menu.button")
    return "\n".join(lines) + "\n"


def _menu_lines(buttons: tuple[MenuButton, ...], table: str) -> Iterator[str]:
    for button in buttons:
        yield f"[[{table}]]"
        yield _pair("name", button.name)
        if button.key:
            yield _pair("key", button.key)
        if button.url:
            yield _pair("url", button.url)
        yield from _menu_lines(button.sub_buttons, f"{table}.sub_button")


def _pair(key: str, value: str) -> str:
    return f"{_quoted(key)} = {_quoted(value)}"


def _quoted(text: str) -> str:
    """A TOML basic string: JSON's escapes (\\", \\\\, \\n, \\uXXXX) are TOML's too."""
    return json.dumps(text, ensure_ascii=False)
