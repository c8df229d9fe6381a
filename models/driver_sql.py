"""Statements that run for every delivery, executed on psycopg's own cursor.

The webhook runs two statements for each message WeChat sends (models/inbound.py).
Through ``Connection.execute`` each also paid for an execution context, a result built
from the cursor's description and SQLAlchemy's parameter handling: about a third of the
client CPU of the statement, about 15% of a whole message's (bench/README.md,
bench/webhook.py). Here SQLAlchemy still compiles the statement, once, and psycopg runs
it as a prepared statement on the transaction's own connection. Errors come back as
SQLAlchemy's, a lost connection invalidated as SQLAlchemy would, so callers cannot tell
the difference.

PostgreSQL only: SQLite goes through ``Connection.execute`` as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

import psycopg
from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler


def first_row(
    connection: Connection, statement: ClauseElement, values: Mapping[str, Any]
) -> tuple[Any, ...] | None:
    """The first row ``statement`` returns (None for none), as a tuple in its column order
    and as psycopg reads the values: no column type's result processing runs, so keep
    such columns out. The statement must return rows (a SELECT, or RETURNING).

    Inside the connection's transaction when it is in one. Otherwise the statement is a
    transaction of its own, committed by the server as it answers: one round trip, where
    psycopg would otherwise send BEGIN before it and SQLAlchemy COMMIT after it.
    """
    compiled = _compiled(statement, connection.dialect)
    params = _bound(compiled, values)
    driver = connection.connection.driver_connection
    if not isinstance(driver, psycopg.Connection):
        raise TypeError("driver_sql runs on psycopg connections only")
    alone = not connection.in_transaction()
    try:
        if alone:
            driver.autocommit = True
        cursor = _kept_cursor(connection, driver)
        cursor.execute(compiled.sql.string, params, prepare=True)
        return cursor.fetchone()
    except psycopg.Error as error:
        raise _as_sqlalchemy_error(connection, compiled.sql.string, params, error) from error
    finally:
        if alone and not driver.closed:
            driver.autocommit = False


def _kept_cursor(connection: Connection, driver: psycopg.Connection[Any]) -> psycopg.Cursor[Any]:
    """The cursor this DBAPI connection keeps for these statements. A new cursor each time
    cost a third of the client CPU of a statement (about 45 of 135 µs: a cursor and its
    adaptation context built, and each parameter's dumper looked up afresh); a kept one
    has them. It lives in the pool's ``info`` for the connection, which SQLAlchemy clears
    when it replaces an invalidated connection, and is only used by the thread that has
    the connection checked out."""
    info = connection.connection.info
    cursor = info.get(_CURSOR_KEY)
    if cursor is None or cursor.closed or cursor.connection is not driver:
        cursor = driver.cursor()
        info[_CURSOR_KEY] = cursor
    return cast(psycopg.Cursor[Any], cursor)


_CURSOR_KEY = "aixiang.driver_sql.cursor"


@dataclass(frozen=True)
class _Compiled:
    sql: SQLCompiler
    # Bind processors of the parameters' types (UTCDateTime refuses naive datetimes).
    processors: Mapping[str, Callable[[Any], Any]]


@lru_cache(maxsize=32)
def _compiled(statement: ClauseElement, dialect: Dialect) -> _Compiled:
    sql = cast(SQLCompiler, statement.compile(dialect=dialect))
    processors = {
        name: processor
        for bind, name in sql.bind_names.items()
        if (processor := bind.type.bind_processor(dialect)) is not None
    }
    return _Compiled(sql, processors)


def _bound(compiled: _Compiled, values: Mapping[str, Any]) -> dict[str, Any]:
    params = dict(compiled.sql.construct_params(dict(values)) or {})
    try:
        for name, processor in compiled.processors.items():
            params[name] = processor(params[name])
    except (TypeError, ValueError) as error:
        raise StatementError(
            str(error), compiled.sql.string, params, error, hide_parameters=True
        ) from error
    return params


def _as_sqlalchemy_error(
    connection: Connection, sql: str, params: Mapping[str, Any], error: psycopg.Error
) -> StatementError:
    """What ``Connection.execute`` raises for ``error``; a lost connection is invalidated,
    and the pool's idle connections are closed with it, since a restarted server has
    dropped every pooled connection. The pool itself is kept: replacing it (as
    ``Engine.dispose`` does) left the connections other threads had checked out to go
    back into the old pool, where nothing closes them and each held its socket until the
    garbage collector found it (psycopg warns then). Those come back to this pool, and
    one that is dead fails at its next use and is replaced, as this one is. The
    parameters stay out of the error, as the engine keeps them out of its own
    (models/db.py): they hold what residents wrote."""
    lost = connection.dialect.is_disconnect(
        cast(Any, error), connection.connection.dbapi_connection, None
    )
    if lost:
        connection.invalidate(error)
        connection.engine.pool.dispose()
    return DBAPIError.instance(
        sql,
        dict(params),
        error,
        psycopg.Error,
        hide_parameters=True,
        connection_invalidated=lost,
        dialect=connection.dialect,
    )
