"""Case exports over a million generated cases (PostGIS): the export writer (the same rows,
columns and code a background export job runs) to CSV, and to XLSX, next to the floor of a raw
``COPY (SELECT …) TO STDOUT`` of the same rows in the same run.

Memory must stay flat: rows are read through a server-side cursor in chunks and written one
at a time, so the process's peak RSS should grow by a few megabytes whatever the row count.
The growth printed is the peak resident set after each export minus the one before it.

Rows: every stored case (GRIDGOV_BENCH_EXPORT_ROWS limits it; XLSX is written for
GRIDGOV_BENCH_EXPORT_XLSX_ROWS rows, default the goal's 1,000,000, 0 to skip). The job's filters
(dashboard figure and period) select case ids from stats.CaseFact; that needs the roll-ups
rebuilt over the million cases first, so here the export reads the case table directly.
"""

import os
import resource
import tempfile
import time
from pathlib import Path

from django.db import connection

from bench import report
from bench.bench_cases import ensure_stored
from cases.models import Case
from evaluation.exports import (
    CASE_COLUMNS,
    CASE_MOMENTS,
    case_headers,
    case_rows,
    write_csv,
    write_xlsx,
)

GOAL_SECONDS = 60


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def queryset(limit: int | None):
    found = Case.objects.order_by("reported_at", "pk")
    if limit:
        found = found.filter(pk__in=Case.objects.order_by("pk").values("pk")[:limit])
    return found


def copy_floor(limit: int | None, path: Path) -> tuple[float, int]:
    """Raw COPY of the same columns and rows, straight to a file."""
    values = queryset(limit).values_list(*(expr for _name, expr in CASE_COLUMNS))
    sql, params = values.query.sql_with_params()
    # Values written into the statement (COPY takes no parameters); the connection's
    # cursors bind on the server and cannot do it.
    statement = connection.ops.compose_sql(sql, params)
    with connection.cursor() as cursor:
        started = time.perf_counter()
        size = 0
        with (
            open(path, "wb") as out,
            cursor.cursor.copy(f"COPY ({statement}) TO STDOUT WITH (FORMAT csv, HEADER)") as copy,
        ):
            for data in copy:
                out.write(data)
                size += len(data)
        return time.perf_counter() - started, size


def export(writer, limit: int | None, path: Path) -> tuple[float, int, float]:
    before = peak_rss_mb()
    started = time.perf_counter()
    # In autocommit, as in the export job (its progress updates must be seen while it runs):
    # Django declares the server-side cursor WITH HOLD.
    # As the export job calls it: the XLSX writes the moments as date-and-time cells.
    count = writer(path, case_headers(), case_rows(queryset(limit)), moments=CASE_MOMENTS)
    return time.perf_counter() - started, count, peak_rss_mb() - before


def run() -> None:
    note = ensure_stored()
    print(note, flush=True)
    limit = int(os.environ.get("GRIDGOV_BENCH_EXPORT_ROWS", "0")) or None
    # XLSX rows: the goal's 1,000,000 (default; as many as the CSV if fewer), 0 to skip.
    xlsx_rows = int(os.environ.get("GRIDGOV_BENCH_EXPORT_XLSX_ROWS", "1000000"))
    total = limit or Case.objects.count()
    work = Path(tempfile.mkdtemp(prefix="bench-export-"))
    floor_s, floor_bytes = copy_floor(limit, work / "copy.csv")
    cpu0 = time.process_time()
    csv_s, csv_rows, csv_growth = export(write_csv, limit, work / "cases.csv")
    csv_cpu = time.process_time() - cpu0
    csv_bytes = (work / "cases.csv").stat().st_size
    report(
        f"CSV export of {csv_rows:,} cases (writer of the export job)",
        goal=f"< {GOAL_SECONDS} s, memory flat",
        figure=(
            f"{csv_s:.1f} s ({csv_rows / csv_s:,.0f} rows/s; CPU {csv_cpu:.1f} s), "
            f"{csv_bytes / 1e6:.0f} MB, peak RSS growth {csv_growth:.1f} MB"
        ),
        floor=f"COPY (SELECT …) TO STDOUT of the same rows: {floor_s:.1f} s, "
        f"{floor_bytes / 1e6:.0f} MB",
        ok=csv_s < GOAL_SECONDS and csv_rows == total,
    )
    if xlsx_rows != 0:
        n = min(xlsx_rows, total)
        cpu0 = time.process_time()
        x_s, x_rows, x_growth = export(write_xlsx, n, work / "cases.xlsx")
        x_cpu = time.process_time() - cpu0
        report(
            f"XLSX export of {x_rows:,} cases (XlsxWriter, constant memory)",
            goal=f"< {GOAL_SECONDS} s for 1,000,000 rows if feasible, memory flat",
            figure=(
                f"{x_s:.1f} s ({x_rows / x_s:,.0f} rows/s; CPU {x_cpu:.1f} s), "
                f"{(work / 'cases.xlsx').stat().st_size / 1e6:.0f} MB, "
                f"peak RSS growth {x_growth:.1f} MB"
            ),
            floor=f"COPY of {total:,} rows {floor_s:.1f} s",
            ok=x_s < GOAL_SECONDS,
        )
    for f in work.iterdir():
        f.unlink()
    work.rmdir()
