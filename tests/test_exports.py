"""Cells a spreadsheet would run as formulas are kept as text, whatever export writes them."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from scheduler.exports.sheets import csv_bytes, spreadsheet_text, xlsx_bytes

TRIGGERS = ["=", "+", "-", "@", "＝", "＋", "－", "＠"]
LEADING = ["", " ", "  ", "\t", " \t ", "\u3000"]


@pytest.mark.parametrize("lead", LEADING, ids=repr)
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_a_formula_start_gets_a_quote(trigger: str, lead: str) -> None:
    cell = f'{lead}{trigger}HYPERLINK("http://evil.example")'
    assert spreadsheet_text(cell) == f"'{cell}"


@pytest.mark.parametrize("cell", ["\t1", "\r=1", "\r\n1"], ids=repr)
def test_a_cell_starting_with_a_tab_or_a_return_gets_a_quote(cell: str) -> None:
    assert spreadsheet_text(cell) == f"'{cell}"


@pytest.mark.parametrize("cell", ["张三", "李四-2", "a=1", "", " 2", "13812345678"], ids=repr)
def test_other_text_is_left_as_typed(cell: str) -> None:
    assert spreadsheet_text(cell) == cell


@pytest.mark.parametrize("cell", [None, 2, 1.5, True])
def test_what_is_not_text_is_left_alone(cell: object) -> None:
    assert spreadsheet_text(cell) is cell


def test_csv_and_xlsx_files_keep_formulas_as_text_and_chinese_readable() -> None:
    rows = [["=SUM(A1)", 3, None], ["朝阳村", 0.5, "@x"]]
    written = csv_bytes(["名字", "数", "备注"], rows)
    assert written.startswith(b"\xef\xbb\xbf")
    assert list(csv.reader(io.StringIO(written.decode("utf-8-sig")))) == [
        ["名字", "数", "备注"],
        ["'=SUM(A1)", "3", ""],
        ["朝阳村", "0.5", "'@x"],
    ]
    book = openpyxl.load_workbook(io.BytesIO(xlsx_bytes("a" * 40, ["名字", "数", "备注"], rows)))
    sheet = book.active
    assert sheet is not None and sheet.title == "a" * 31
    assert list(sheet.iter_rows(values_only=True)) == [
        ("名字", "数", "备注"),
        ("'=SUM(A1)", 3, None),
        ("朝阳村", 0.5, "'@x"),
    ]
