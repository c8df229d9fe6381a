"""Where the configuration is read from, and relative paths anchored to its folder."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.config.sections import Config

# Where relative paths (the embedded database, media) are read from when no config file
# names them: the project's folder, so a command works the same from any folder.
PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
# The config a running `aixiang demo` writes beside its database (bot/demo/state.py), read
# when no other config file is given, so staff commands reach the demo as it runs.
RUNNING_DEMO_CONFIG = PROJECT_ROOT / "instance" / "demo.toml"


def anchor_paths(config: Config, folder: Path) -> Config:
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
    exports = Path(config.exports.dir)
    clock_file = Path(config.bot.clock_offset_file)
    if config.bot.clock_offset_file and not clock_file.is_absolute():
        config = replace(
            config, bot=replace(config.bot, clock_offset_file=str(folder / clock_file))
        )
    return replace(
        config,
        bot=replace(config.bot, spool_dir=str(spool if spool.is_absolute() else folder / spool)),
        database=replace(config.database, url=database_url),
        exports=replace(
            config.exports, dir=str(exports if exports.is_absolute() else folder / exports)
        ),
        needs=replace(
            config.needs, media_dir=str(media if media.is_absolute() else folder / media)
        ),
    )


def config_path_for(
    path: str | os.PathLike[str] | None, env: Mapping[str, str], running_demo: bool
) -> Path | None:
    """The file to read: ``path``, else ``AIXIANG_CONFIG``, else ./config.toml, else the
    running demo's (when ``running_demo``); None when there is none."""
    if path is not None:
        return Path(path)
    if env.get("AIXIANG_CONFIG"):
        return Path(env["AIXIANG_CONFIG"])
    default = Path("config.toml")
    if default.exists():
        return default
    return RUNNING_DEMO_CONFIG if running_demo and RUNNING_DEMO_CONFIG.exists() else None
