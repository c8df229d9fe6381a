"""Spreadsheet files, one row at a time: cells a spreadsheet would run as formulas are
kept as text; CSV is UTF-8 with a byte-order mark (so Excel and WPS show Chinese); XLSX
is written by XlsxWriter in constant-memory mode (one row in memory, however long the
table), continued on a new sheet past Excel's last row (RapidPro's exports do the same).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from itertools import islice
from typing import IO, Any

import xlsxwriter

# Excel and LibreOffice start a formula at any of these, the full-width forms (typed by a
# Chinese input method) included, and after leading blanks (OWASP, "CSV Injection").
FORMULA_STARTS = frozenset("=+-@＝＋－＠")
LEADING_BLANKS = " \t\r\n\u3000"
# A cell starting with a tab or a return is read as a formula start by some importers.
CONTROL_STARTS = ("\t", "\r")
# Excel refuses a sheet name longer than this.
SHEET_NAME_MAX = 31
# Excel's last row; the header takes one on each sheet.
SHEET_ROWS_MAX = 1_048_576
BOM = "\ufeff"
# A text whose first character is none of these is safe as it is (the usual case, tested
# first so that an export's cells rarely pay for the full check).
RISKY_FIRST = FORMULA_STARTS | frozenset(LEADING_BLANKS) | frozenset("".join(CONTROL_STARTS))

# Told how many rows were written so far, now and then.
Progress = Callable[[int], None]


def spreadsheet_text(value: Any) -> Any:
    """A cell a spreadsheet shows as typed: text that would start a formula gets a leading
    single quote, which Excel and LibreOffice read as "this is text". Residents choose
    their own names, so a name is never trusted to be inert; numbers, dates and None
    pass through unchanged."""
    if not isinstance(value, str) or not value or value[0] not in RISKY_FIRST:
        return value
    if value.startswith(CONTROL_STARTS) or value.lstrip(LEADING_BLANKS)[:1] in FORMULA_STARTS:
        return f"'{value}"
    return value


def write_csv(
    out: IO[bytes],
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    progress: Progress | None = None,
    every: int = 10_000,
    *,
    escaped: bool = False,
) -> int:
    """``rows`` as CSV to ``out``, each cell made safe by :func:`spreadsheet_text`
    (unless ``escaped``: the caller did it for the cells that need it); returns how many
    rows were written."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=False)
    try:
        text.write(BOM)
        writer = csv.writer(text)
        writer.writerow([spreadsheet_text(cell) for cell in headers])
        safe = iter(rows) if escaped else ([spreadsheet_text(c) for c in row] for row in rows)
        count = 0
        while batch := list(islice(safe, every)):
            # csv writes None as an empty cell.
            writer.writerows(batch)
            count += len(batch)
            if progress is not None:
                progress(count)
        text.flush()
    finally:
        text.detach()
    return count


def write_xlsx(
    out: IO[bytes] | str,
    sheet: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    progress: Progress | None = None,
    every: int = 10_000,
    *,
    escaped: bool = False,
) -> int:
    """``rows`` as an XLSX workbook to ``out`` (a file or a path): strings are never read
    as formulas, numbers or links, and made safe as in CSV (unless ``escaped``); numbers
    stay numbers; returns how many rows were written."""
    workbook = xlsxwriter.Workbook(
        out,
        {
            "constant_memory": True,
            "in_memory": False,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    name = sheet[:SHEET_NAME_MAX]
    safe_headers = [spreadsheet_text(cell) for cell in headers]
    worksheet = workbook.add_worksheet(name)
    worksheet.write_row(0, 0, safe_headers)
    count = 0
    line = 1
    sheets = 1
    for row in rows:
        if line == SHEET_ROWS_MAX:
            sheets += 1
            worksheet = workbook.add_worksheet(f"{name[: SHEET_NAME_MAX - 4]} ({sheets})")
            worksheet.write_row(0, 0, safe_headers)
            line = 1
        # The typed writers, not write(): XlsxWriter's dispatch on each cell's type costs
        # as much as writing it.
        write_string, write_number = worksheet.write_string, worksheet.write_number
        for column, cell in enumerate(row):
            if cell is None:
                continue
            if isinstance(cell, str):
                write_string(line, column, cell if escaped else spreadsheet_text(cell))
            elif isinstance(cell, bool):
                worksheet.write_boolean(line, column, cell)
            else:
                write_number(line, column, cell)
        line += 1
        count += 1
        if progress is not None and count % every == 0:
            progress(count)
    workbook.close()
    return count


def csv_bytes(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A small CSV file in memory (a dashboard table, a roster)."""
    out = io.BytesIO()
    write_csv(out, headers, rows)
    return out.getvalue()


def xlsx_bytes(sheet: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A small XLSX workbook of one sheet in memory (a dashboard table)."""
    out = io.BytesIO()
    write_xlsx(out, sheet, headers, rows)
    return out.getvalue()
