"""What every spreadsheet export shares (the CLI's CSV roster, the console's CSV and XLSX
exports): cells a spreadsheet would run as formulas are kept as text; CSV is UTF-8 with
a byte-order mark; XLSX is written row by row.

It lives in bot/, beside the two shells that export, rather than in models/: it is about
a file format people open, not a rule of the data, and models/ stays free of file I/O.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

import xlsxwriter

# Excel and LibreOffice start a formula at any of these, the full-width forms (typed by a
# Chinese input method) included, and after leading blanks (OWASP, "CSV Injection").
FORMULA_STARTS = frozenset("=+-@＝＋－＠")
LEADING_BLANKS = " \t\r\n\u3000"
# A cell starting with a tab or a return is read as a formula start by some importers.
CONTROL_STARTS = ("\t", "\r")
# Excel refuses a sheet name longer than this.
SHEET_NAME_MAX = 31


def spreadsheet_text(value: Any) -> Any:
    """A cell a spreadsheet shows as typed: text that would start a formula gets a leading
    single quote, which Excel and LibreOffice read as "this is text". Residents choose
    their own names, so a name is never trusted to be inert; numbers, dates and None
    pass through unchanged."""
    if not isinstance(value, str):
        return value
    if value.startswith(CONTROL_STARTS) or value.lstrip(LEADING_BLANKS)[:1] in FORMULA_STARTS:
        return f"'{value}"
    return value


def csv_bytes(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A CSV file as Excel opens Chinese text rightly: UTF-8 with a byte-order mark, each
    cell made safe by :func:`spreadsheet_text`."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([spreadsheet_text(cell) for cell in headers])
    for row in rows:
        writer.writerow(["" if cell is None else spreadsheet_text(cell) for cell in row])
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


def xlsx_bytes(sheet: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """An XLSX workbook of one sheet, written row by row (XlsxWriter's constant_memory
    mode keeps one row in memory, however long the table), cells made safe as in CSV;
    strings are never read as formulas or numbers."""
    out = io.BytesIO()
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
    worksheet = workbook.add_worksheet(sheet[:SHEET_NAME_MAX])
    for number, row in enumerate([headers, *rows]):
        for column, cell in enumerate(row):
            worksheet.write(number, column, spreadsheet_text(cell))
    workbook.close()
    return out.getvalue()
