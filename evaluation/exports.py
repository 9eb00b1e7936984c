"""Case-list exports to CSV and XLSX, written row by row from a server-side cursor so that
memory stays flat whatever the number of rows."""

import csv
import datetime
import functools
import os
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal

from django.db import connection
from django.db.models import CharField, DateTimeField, F, Func, QuerySet, Value
from django.db.models.functions import Cast, Coalesce, Concat, NullIf
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from cases.models import Case, Source, Stage
from stats.figures import Period, drill
from stats.views import chosen_place

CHUNK = 2000
# Rows fetched per round trip from the server-side cursor.
FETCH = 10_000

# (column label, value expression) in the order written.
CASE_COLUMNS = (
    ("number", "number"),
    ("source", "source"),
    ("stage", "stage"),
    ("category", "category__full_code"),
    ("category_name", "category__name"),
    ("department", "department__name"),
    ("grid", "grid__code"),
    ("address", "address"),
    ("reported_at", "reported_at"),
    ("filed_at", "filed_at"),
    ("deadline", "deadline"),
    ("closed_at", "closed_at"),
)


# The columns of CASE_COLUMNS that hold a moment, written by ``case_rows`` as local time in
# MOMENT_TEXT's form: an XLSX file gives them as date-and-time cells.
_MOMENT_FIELDS = frozenset(
    f.name for f in Case._meta.concrete_fields if isinstance(f, DateTimeField)
)
CASE_MOMENTS = frozenset(
    i for i, (_name, expr) in enumerate(CASE_COLUMNS) if expr in _MOMENT_FIELDS
)
MOMENT_TEXT = "%Y-%m-%d %H:%M:%S"


def case_headers() -> list[str]:
    labels = {
        "number": _("Case number"),
        "source": _("Source"),
        "stage": _("Stage"),
        "category": _("Category"),
        "category_name": _("Category name"),
        "department": _("Department"),
        "grid": _("Grid"),
        "address": _("Address"),
        "reported_at": _("Reported at"),
        "filed_at": _("Filed at"),
        "deadline": pgettext("export column", "Deadline"),
        "closed_at": _("Closed at"),
    }
    return [labels[name] for name, _expr in CASE_COLUMNS]


def cases_for(user, params: dict, scope) -> QuerySet:
    """The cases of the dashboard's list for ``params`` (already cleaned by DrillForm, dates as
    ISO strings), as ``user`` may see them."""
    place, _crumbs = chosen_place(params, scope)
    period = Period(
        datetime.date.fromisoformat(params["start"]), datetime.date.fromisoformat(params["end"])
    )
    ids = drill(
        params["figure"],
        place,
        scope,
        period,
        category=params.get("category"),
        age=params.get("age"),
        department=params.get("department"),
    )
    return Case.objects.visible_to(user).filter(pk__in=ids.order_by())


class LocalTime(Func):
    """A moment as the text the export writes, in the current time zone, formatted by
    PostgreSQL: that saves reading a million timestamps into Python only to format them
    again. (Other databases return the moment, formatted in Python.)"""

    output_field = CharField()

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        zone = timezone.get_current_timezone_name()
        return f"to_char(({sql}) AT TIME ZONE %s, 'YYYY-MM-DD HH24:MI:SS')", (*params, zone)


def case_rows(queryset: QuerySet) -> Iterator[tuple]:
    """Plain tuples in a stable order, read in chunks through a server-side cursor, as a
    reader reads them in the active language: a case not filed yet by its provisional
    "#id", the source and the stage by their names, the category's name beside its code
    (its English name where it has one)."""
    moments = _MOMENT_FIELDS if connection.vendor == "postgresql" else ()
    english = (translation.get_language() or "").startswith("en")
    expressions = {
        "number": Coalesce("number", Concat(Value("#"), Cast("pk", CharField()))),
        "category__name": Coalesce(NullIf("category__name_en", Value("")), "category__name")
        if english
        else "category__name",
    }
    values = queryset.order_by("reported_at", "pk").values_list(
        *(
            LocalTime(F(expr)) if expr in moments else expressions.get(expr, expr)
            for _name, expr in CASE_COLUMNS
        )
    )
    # The names in the language active now (a worker's export runs under the asker's).
    names = {
        index: {code: str(label) for code, label in choices}
        for index, choices in (
            (_column("source"), Source.choices),
            (_column("stage"), Stage.choices),
        )
    }
    return _named_rows(values, names, timezone.get_current_timezone())


def _column(name: str) -> int:
    return next(i for i, (column, _expr) in enumerate(CASE_COLUMNS) if column == name)


def _named_rows(values, names: dict[int, dict], zone) -> Iterator[tuple]:
    for row in values.iterator(chunk_size=FETCH):
        yield tuple(
            timezone.localtime(v, zone).strftime(MOMENT_TEXT)
            if isinstance(v, datetime.datetime)
            else ("" if v is None else names[i].get(v, v) if i in names else v)
            for i, v in enumerate(row)
        )


class Echo:
    """A file-like object whose write returns what it was given (for streaming CSV)."""

    def write(self, value):
        return value


# A spreadsheet program opening a CSV file reads a cell that starts with one of these as a
# formula. Text typed by the public (an address reported through Open311) must not run as
# one on a supervisor's machine, so such text is written after an apostrophe, the mark
# that makes a spreadsheet take the rest as text. (The XLSX files type their cells.)
FORMULA_STARTS = frozenset("=+-@\t\r")


def as_text(row) -> list:
    return [
        "'" + value if type(value) is str and value[:1] in FORMULA_STARTS else value
        for value in row
    ]


def csv_lines(headers: list[str], rows: Iterable[tuple]) -> Iterator[str]:
    writer = csv.writer(Echo())
    yield "\ufeff" + writer.writerow(headers)  # BOM: spreadsheet programs read it as UTF-8
    for row in rows:
        yield writer.writerow(as_text(row))


def write_csv(
    path, headers, rows, progress: Callable[[int], None] | None = None, moments=()
) -> int:
    """``moments`` (the columns holding a moment) is for the XLSX writer: CSV is text."""
    count = 0
    with open(path, "w", newline="", encoding="utf-8-sig") as out:
        writer = csv.writer(out)
        writer.writerow(headers)
        for row in rows:
            writer.writerow(as_text(row))
            count += 1
            if progress and count % CHUNK == 0:
                progress(count)
    return count


# Excel opens at most this many rows of a sheet: a longer export goes on over further
# sheets ("Cases", "Cases 2", …; 案卷 in Chinese), each starting with the header.
SHEET_ROWS = 1_048_576


def write_xlsx(
    path,
    headers,
    rows,
    progress: Callable[[int], None] | None = None,
    title: str | None = None,
    sheet_rows: int = SHEET_ROWS,
    moments=(),
) -> int:
    """Write ``rows`` under ``headers`` to ``path`` (a file name, or a binary file object
    for a small export held in memory), on sheets named ``title`` (the cases by default).
    Text stays text: a reported address that starts with "=" is not a formula, nor a case
    number a number. Numbers are numbers. XlsxWriter writes each row to disk as it goes
    (constant_memory), about 1.5 times as fast as openpyxl's write-only mode (bench_export).
    ``moments``: the columns whose text is a local moment in MOMENT_TEXT's form (or empty),
    written as date-and-time cells that a spreadsheet sorts, filters and computes with."""
    import xlsxwriter

    if isinstance(path, str | os.PathLike):
        # Rows go to a file beside the export as they come, and into it at the end: memory
        # stays flat, and a small /tmp does not limit the size of an export.
        options = {"constant_memory": True, "tmpdir": os.path.dirname(os.path.abspath(path))}
    else:
        options = {"in_memory": True}
    book = xlsxwriter.Workbook(path, options)
    labels = [str(h) for h in headers]
    moment = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    moments = frozenset(moments)
    name = title or pgettext("export", "Cases")
    sheets = 0

    def new_sheet():
        nonlocal sheets
        sheets += 1
        sheet = book.add_worksheet(name if sheets == 1 else f"{name} {sheets}")
        for column, label in enumerate(labels):
            sheet.write_string(0, column, label)
        for column in moments:
            sheet.set_column(column, column, 19)  # wide enough: a narrow one shows "####"
        return sheet.write_string, sheet.write_number

    count = 0
    line = sheet_rows  # the next row's index in the current sheet: full, so start one
    for row in rows:
        if line == sheet_rows:
            text, number = new_sheet()
            line = 1
        for column, value in enumerate(row):
            if type(value) is str:
                if not value:
                    continue
                if column in moments:
                    number(line, column, excel_moment(value), moment)
                else:
                    text(line, column, value)
            elif isinstance(value, int | float | Decimal):
                number(line, column, value)
            elif value is not None:
                text(line, column, str(value))
        line += 1
        count += 1
        if progress and count % CHUNK == 0:
            progress(count)
    if not sheets:  # no row: the header alone
        new_sheet()
    book.close()
    return count


# Excel's day 0 is 1899-12-30 (as its own calendar counts, with 1900-02-29 in it).
_EXCEL_EPOCH = datetime.date(1899, 12, 30).toordinal()


def excel_moment(text: str) -> float:
    """A moment written as MOMENT_TEXT ("2026-12-01 13:05:09") as Excel's serial number:
    days since its epoch, the time of day as a fraction."""
    seconds = int(text[11:13]) * 3600 + int(text[14:16]) * 60 + int(text[17:19])
    return _excel_day(text[:10]) + seconds / 86400


@functools.lru_cache(maxsize=8192)
def _excel_day(text: str) -> int:
    """A day ("2026-12-01") as Excel's number, once per day: an export's moments fall on a
    few thousand days at most."""
    return datetime.date(int(text[:4]), int(text[5:7]), int(text[8:10])).toordinal() - _EXCEL_EPOCH


WRITERS = {"csv": write_csv, "xlsx": write_xlsx}
