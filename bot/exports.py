"""What every spreadsheet export shares (the CLI's CSV roster now, the console's CSV and
XLSX exports later): cells a spreadsheet would run as formulas are kept as text.

It lives in bot/, beside the two shells that export, rather than in models/: it is about
a file format people open, not a rule of the data, and models/ stays free of file I/O.
"""

from __future__ import annotations

from typing import Any

# Excel and LibreOffice start a formula at any of these, the full-width forms (typed by a
# Chinese input method) included, and after leading blanks (OWASP, "CSV Injection").
FORMULA_STARTS = frozenset("=+-@＝＋－＠")
LEADING_BLANKS = " \t\r\n\u3000"
# A cell starting with a tab or a return is read as a formula start by some importers.
CONTROL_STARTS = ("\t", "\r")


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
