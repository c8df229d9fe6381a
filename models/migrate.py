"""Run Alembic migrations from code, so `aixiang db upgrade` needs no alembic.ini.

The migration scripts ship inside the package (models/migrations), which lets an installed
copy upgrade a database without the source tree.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory

from models.db import Timeouts

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Alembic's record of the revision a database is at: a database without it has no schema.
MIGRATIONS_TABLE = "alembic_version"


# Where env.py finds the connect timeout in the Alembic config's attributes.
CONNECT_TIMEOUT_ATTRIBUTE = "connect_timeout_s"


def alembic_config(database_url: str, connect_timeout_s: int = Timeouts.connect_s) -> AlembicConfig:
    """The migrations' config for ``database_url``. Only the connect timeout of the
    configured limits applies: a statement limit would cut a long migration short."""
    config = AlembicConfig()
    config.attributes[CONNECT_TIMEOUT_ATTRIBUTE] = connect_timeout_s
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser treats % as interpolation; URLs may contain %-escapes.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(
    database_url: str, revision: str = "head", connect_timeout_s: int = Timeouts.connect_s
) -> None:
    command.upgrade(alembic_config(database_url, connect_timeout_s), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def heads(database_url: str = "sqlite://") -> list[str]:
    return list(ScriptDirectory.from_config(alembic_config(database_url)).get_heads())
