"""An export kind's rows written to a file: read from its query through a server-side
cursor ``batch_rows`` at a time (SQLAlchemy's ``yield_per``), each cell shown as the
column says (times in the configured zone, vocabularies by name, in the reader's
language), and passed on one row at a time to :mod:`scheduler.exports.sheets`. Nothing holds
all the rows; the file appears under its name whole, or not at all."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, type_coerce
from sqlalchemy.orm import Session

from models.base import local_text
from models.exports.kinds import CellForm, Column, ExportFormat, ExportSpec
from models.exports.queries import Rows
from models.needs.tables import need_ref
from scheduler.exports.sheets import Progress, spreadsheet_text, write_csv, write_xlsx
from texts.catalog import catalog

Cell = Callable[[Any], Any]


@dataclass(frozen=True)
class Reader:
    """Whom a file is for: the language of its headers and names, and the zone of its
    times."""

    language: str
    tz: ZoneInfo


def headers(spec: ExportSpec, reader: Reader) -> list[str]:
    return [catalog().render(column.header_key, reader.language) for column in spec.columns]


def _cell(column: Column, reader: Reader) -> Cell:
    """How one column's values are shown, decided once per export, not once per cell."""
    render = catalog().render
    if column.form == CellForm.TIME:
        tz = reader.tz

        def local(value: datetime | None) -> str | None:
            # Read past the column's UTC type (see shown_rows): SQLite gives naive UTC.
            if value is None:
                return None
            return local_text(value if value.tzinfo else value.replace(tzinfo=UTC), tz)

        return local
    if column.form == CellForm.NAME:
        names = {value: render(key, reader.language) for value, key in (column.names or {}).items()}
        return lambda value: names.get(value, value)
    if column.form == CellForm.YES_NO:
        yes, no = render("export_yes", reader.language), render("export_no", reader.language)
        return lambda value: None if value is None else (yes if value else no)
    if column.form == CellForm.JSON:
        return lambda value: (
            None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)
        )
    if column.form == CellForm.NEED_REF:
        return need_ref
    # Text people wrote (a need's words, a resident's name): kept from running as a formula.
    return spreadsheet_text


def shown_rows(
    db: Session, query: Rows, spec: ExportSpec, reader: Reader, batch_rows: int
) -> Iterator[list[Any]]:
    """The query's rows as the file shows them, fetched ``batch_rows`` at a time; text
    cells made safe by :func:`spreadsheet_text` here (the others hold the project's own
    words, times and numbers), so the sheet writers need not look at every cell."""
    shown_as = [
        (index, _cell(column, reader))
        for index, column in enumerate(spec.columns)
        if column.form not in PLAIN
    ]
    # The session's connection, not the session: plain rows need none of the ORM's
    # loading, which costs a call per row.
    # Times are read as the driver gives them, past the model's UTC type, which would
    # convert each to UTC only for it to be converted to local time at once.
    timed = {index for index, column in enumerate(spec.columns) if column.form == CellForm.TIME}
    query = query.with_only_columns(
        *(
            type_coerce(column, DateTime(timezone=True)) if index in timed else column
            for index, column in enumerate(query.selected_columns)
        ),
        maintain_column_froms=True,
    )
    result = db.connection().execute(query.execution_options(yield_per=batch_rows))
    for batch in result.partitions():
        for row in batch:
            shown = list(row)
            for index, cell in shown_as:
                shown[index] = cell(shown[index])
            yield shown


# Columns written as the database gives them.
PLAIN = frozenset({CellForm.NUMBER})


def write_export(
    db: Session,
    query: Rows,
    spec: ExportSpec,
    fmt: ExportFormat,
    reader: Reader,
    out: IO[bytes],
    batch_rows: int,
    progress: Progress | None = None,
) -> int:
    """The export to ``out``; returns how many rows were written."""
    rows = shown_rows(db, query, spec, reader, batch_rows)
    if fmt == ExportFormat.CSV:
        return write_csv(out, headers(spec, reader), rows, progress, batch_rows, escaped=True)
    return write_xlsx(
        out, spec.kind, headers(spec, reader), rows, progress, batch_rows, escaped=True
    )


def write_atomically(path: Path, write: Callable[[IO[bytes]], int]) -> int:
    """``write`` into a temporary file beside ``path``, renamed to ``path`` once it is
    whole: a failure (or a stop) part way leaves nothing under the name."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            count = write(out)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return count
