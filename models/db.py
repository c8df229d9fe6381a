"""Engine and session factory for either database.

SQLite is the embedded default: it gets WAL, foreign keys and a busy timeout so that the
demo's threads and the test suite's concurrent requests wait instead of failing.
PostgreSQL gets a connect timeout (:class:`Timeouts`): a server that takes the TCP
connection and then never answers would otherwise hold a webhook request or a staff
command for as long as the kernel keeps the socket, with no error to act on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 15_000


@dataclass(frozen=True)
class Timeouts:
    """How long PostgreSQL may take: to accept a connection (whole seconds, as libpq
    counts them), to run one statement, to wait for one lock; 0 means no limit. A limit
    reached is an OperationalError, which the webhook treats as the database being away
    (it spools the delivery) and a staff command prints as one line."""

    connect_s: int = 3
    statement_s: float = 0
    lock_s: float = 0

    def connect_args(self) -> dict[str, Any]:
        """The psycopg connection parameters that set these limits."""
        args: dict[str, Any] = {"connect_timeout": self.connect_s}
        settings = [
            f"-c {name}={round(seconds * 1000)}"
            for name, seconds in (
                ("statement_timeout", self.statement_s),
                ("lock_timeout", self.lock_s),
            )
            if seconds
        ]
        if settings:
            args["options"] = " ".join(settings)
        return args


def make_engine(
    url: str,
    *,
    pre_ping: bool = True,
    timeouts: Timeouts = Timeouts(),
    keep_connections: int | None = None,
    **kwargs: Any,
) -> Engine:
    """Create the engine for ``url``, making the SQLite file's folder when needed.

    ``pre_ping`` tests each pooled PostgreSQL connection when it is checked out (a round
    trip); a caller that turns it off must retry work whose connection turns out dead.
    ``timeouts`` apply to PostgreSQL only (SQLite has its busy timeout).
    ``keep_connections`` (PostgreSQL) is how many connections the pool may open, all of
    them kept open once opened; by default it keeps 5 and opens up to 10 more, each
    closed again as it comes back, so that a process whose concurrency goes past 5 opens
    a backend (a fork and a sign-in on the server) for every piece of work past them.
    Statement parameters are left out of errors (``hide_parameters``): they hold what
    residents wrote, and an error's message ends up in the logs.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            hide_parameters=True,
            **kwargs,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if keep_connections is not None:
        kwargs |= {"pool_size": keep_connections, "max_overflow": 0}
    return create_engine(
        url,
        pool_pre_ping=pre_ping,
        hide_parameters=True,
        connect_args=timeouts.connect_args(),
        **kwargs,
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, issue BEGIN, so _sqlite_begin_immediate takes effect.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    """Take SQLite's write lock at BEGIN, so read-then-write transactions serialise.

    With a deferred BEGIN two transactions can both read "one place left" and then one
    fails on upgrade to a write lock; IMMEDIATE makes the second wait its turn instead.
    """
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)
