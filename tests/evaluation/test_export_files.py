"""The export writers: XLSX read back with an independent reader (openpyxl), CSV with the
standard library's."""

import csv
import datetime
import io
import tempfile
from decimal import Decimal
from pathlib import Path

from django.test import SimpleTestCase
from django.utils import translation
from openpyxl import load_workbook

from evaluation.exports import CASE_COLUMNS, CASE_MOMENTS, csv_lines, write_csv, write_xlsx

HEADERS = ["Case number", "Address", "Score"]


def read(source) -> dict[str, list[tuple]]:
    book = load_workbook(source, read_only=True)
    return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets}


class XlsxTestCase(SimpleTestCase):
    def test_text_stays_text_and_numbers_stay_numbers(self):
        rows = [
            ("20261201000123", '=HYPERLINK("http://x.example","click")', 62.33),
            ("20261201000124", "", Decimal("7.5")),
            ("20261201000125", None, 3),
        ]
        buffer = io.BytesIO()
        self.assertEqual(write_xlsx(buffer, HEADERS, rows), 3)
        book = load_workbook(io.BytesIO(buffer.getvalue()))
        sheet = book.active
        self.assertEqual(sheet.title, "Cases")
        formula_like = sheet.cell(row=2, column=2)
        self.assertEqual(formula_like.data_type, "s")  # a string, never a formula
        self.assertEqual(formula_like.value, '=HYPERLINK("http://x.example","click")')
        self.assertEqual(sheet.cell(row=2, column=1).value, "20261201000123")  # not a number
        self.assertEqual([(sheet.cell(row=r, column=3).value) for r in (2, 3, 4)], [62.33, 7.5, 3])
        self.assertIsNone(sheet.cell(row=3, column=2).value)
        self.assertIsNone(sheet.cell(row=4, column=2).value)

    def test_rows_beyond_a_sheet_go_on_over_further_sheets_each_with_the_header(self):
        rows = [(f"n{i}", f"street {i}", i) for i in range(7)]
        buffer = io.BytesIO()
        self.assertEqual(write_xlsx(buffer, HEADERS, iter(rows), sheet_rows=3), 7)
        sheets = read(io.BytesIO(buffer.getvalue()))
        self.assertEqual(list(sheets), ["Cases", "Cases 2", "Cases 3", "Cases 4"])
        self.assertTrue(all(values[0] == tuple(HEADERS) for values in sheets.values()))
        self.assertEqual([len(values) for values in sheets.values()], [3, 3, 3, 2])
        self.assertEqual([row for values in sheets.values() for row in values[1:]], rows)

    def test_a_file_on_disk_an_empty_export_and_the_sheet_in_chinese(self):
        with translation.override("zh-hans"):
            buffer = io.BytesIO()
            write_xlsx(buffer, HEADERS, [])
        self.assertEqual(read(io.BytesIO(buffer.getvalue())), {"案卷": [tuple(HEADERS)]})
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "cases.xlsx"
            progress = []
            rows = [(f"n{i}", "", i) for i in range(4_001)]
            self.assertEqual(write_xlsx(path, HEADERS, rows, progress.append), 4_001)
            self.assertEqual(progress, [2_000, 4_000])
            (values,) = read(path).values()
            self.assertEqual(len(values), 4_002)
            self.assertEqual(values[-1], ("n4000", None, 4000))


def naive(text: str) -> datetime.datetime:
    """A spreadsheet's moment: local time, without a zone."""
    return datetime.datetime.fromisoformat(text)


class XlsxMomentsTestCase(SimpleTestCase):
    HEADERS = ["Case number", "Address", "Reported at", "Closed at"]
    ROWS = [
        ("20261201000123", "2026-12-01 08:00:00", "2026-12-01 13:05:09", "2026-12-02 00:00:00"),
        ("20261201000124", "东华门街道", "2024-02-29 23:59:59", ""),
    ]

    def check(self, source):
        book = load_workbook(source)
        sheet = book.active
        reported, closed = sheet.cell(row=2, column=3), sheet.cell(row=2, column=4)
        self.assertEqual(reported.value, naive("2026-12-01 13:05:09"))
        self.assertEqual(reported.number_format, "yyyy-mm-dd hh:mm:ss")
        self.assertTrue(reported.is_date)
        self.assertEqual(closed.value, naive("2026-12-02 00:00:00"))
        self.assertEqual(sheet.cell(row=3, column=3).value, naive("2024-02-29 23:59:59"))
        self.assertIsNone(sheet.cell(row=3, column=4).value)  # not closed: an empty cell
        # Only the columns named are moments: an address that reads as one stays text.
        self.assertEqual(sheet.cell(row=2, column=2).value, "2026-12-01 08:00:00")
        self.assertEqual(sheet.cell(row=2, column=2).data_type, "s")
        # Wide enough to show the moment rather than "####".
        wide = {
            column
            for dimension in sheet.column_dimensions.values()
            if dimension.width >= 19
            for column in range(dimension.min, dimension.max + 1)
        }
        self.assertEqual(wide, {3, 4})

    def test_moments_are_date_and_time_cells_in_memory_and_on_disk(self):
        buffer = io.BytesIO()
        write_xlsx(buffer, self.HEADERS, self.ROWS, moments={2, 3})
        self.check(io.BytesIO(buffer.getvalue()))
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "cases.xlsx"
            write_xlsx(path, self.HEADERS, iter(self.ROWS), moments={2, 3})
            self.check(path)

    def test_the_case_exports_moments_are_its_moment_columns(self):
        headers = [name for name, _expr in CASE_COLUMNS]
        self.assertEqual(
            sorted(headers[i] for i in CASE_MOMENTS),
            ["closed_at", "deadline", "filed_at", "reported_at"],
        )

    def test_csv_keeps_moments_as_text(self):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "cases.csv"
            write_csv(path, self.HEADERS, self.ROWS, moments={2, 3})
            with open(path, encoding="utf-8-sig", newline="") as handle:
                self.assertEqual(list(csv.reader(handle))[1:], [list(r) for r in self.ROWS])


class CsvTestCase(SimpleTestCase):
    ROWS = [
        ("20261201000123", '=HYPERLINK("http://x.example")', -3.5),
        ("20261201000124", "+86 10 6512 0000", 2),
        ("20261201000125", "-", 0),
        ("20261201000126", "@SUM(A1)", None),
        ("20261201000127", "\t=1+1", 1),
        ("20261201000128", "东华门街道 = 1 号", 1),
        ("20261201000129", "", 1),
    ]
    EXPECTED = [
        ["20261201000123", '\'=HYPERLINK("http://x.example")', "-3.5"],
        ["20261201000124", "'+86 10 6512 0000", "2"],
        ["20261201000125", "'-", "0"],
        ["20261201000126", "'@SUM(A1)", ""],
        ["20261201000127", "'\t=1+1", "1"],
        ["20261201000128", "东华门街道 = 1 号", "1"],
        ["20261201000129", "", "1"],
    ]

    def test_text_a_spreadsheet_would_run_as_a_formula_is_marked_as_text(self):
        streamed = "".join(csv_lines(HEADERS, self.ROWS)).removeprefix("\ufeff")
        self.assertEqual(list(csv.reader(io.StringIO(streamed)))[1:], self.EXPECTED)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "cases.csv"
            self.assertEqual(write_csv(path, HEADERS, self.ROWS), len(self.ROWS))
            with open(path, newline="", encoding="utf-8-sig") as written:
                rows = list(csv.reader(written))
        self.assertEqual(rows[0], HEADERS)
        self.assertEqual(rows[1:], self.EXPECTED)
