"""Synthetic cases at scale (PostGIS): the generator against raw COPY, and the officer inbox
over a million cases against a bare view.

(a) The bench database keeps 1,000,000 generated cases over the demo district (made once,
    reused). A fresh batch of 200,000 is then generated into the emptied case tables inside a
    transaction that is rolled back, so the stored million stays as it is. On two or more
    CPUs a second process simulates and encodes the next batch while the first writes the
    last one; "simulate" is then the time the writer waited for it (the second process's
    own time is printed as a note). Its rate is compared with the floor measured in the same
    transaction: raw binary COPY of the same 200,000 case rows, built in Python beforehand,
    into cases_case stripped of its secondary indexes and foreign keys, and their rebuild
    (the generator's own bulk path, minus the simulation).
(b) The officer inbox: a demo officer of the department with the most open cases, 200 GETs
    after a warm-up, taking turns with a bare view (/healthz); and the inbox's SQL alone.
"""

import re
import time

from django.db import connection, transaction
from django.db.models import Count
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench import median_ms, percentile, report
from cases import bulk
from cases.models import Case, CaseEvent, CaseReporter, CaseRequest, Photo
from cases.synthetic import CASE_COLUMNS, generate_cases
from cases.views import INBOX_STAGES
from org.models import Role, User

STORED = 1_000_000
FRESH = 200_000
GOAL_RATE = 20_000
INBOX_REQUESTS = 200
WARM_UP = 20
GOAL_MS = 100
CASE_TABLES = [Case, CaseEvent, CaseReporter, CaseRequest, Photo]


def steps(stats) -> str:
    return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in stats.steps.items())


def ensure_stored() -> str:
    count = Case.objects.count()
    if count >= STORED:
        return f"reused {count:,} stored cases"
    print(f"generating {STORED - count:,} cases to store (once; a few minutes)", flush=True)
    stats = generate_cases(cases=STORED - count)
    return (
        f"generated {stats.cases:,} cases ({stats.events:,} events) in {stats.seconds_total:.0f} s:"
        f" {stats.cases_per_second:,.0f} cases/s, {stats.events_per_second:,.0f} events/s,"
        f" {stats.overall_per_second:,.0f} cases/s overall ({stats.mode}; {steps(stats)})"
    )


def wire_rows(cursor) -> list[tuple]:
    """The case rows as they are, in the form binary COPY sends them."""
    select = []
    for column in CASE_COLUMNS:
        if column == "point":
            select.append("ST_AsEWKB(point)")
        elif column in ("deadline", "reported_at", "filed_at", "closed_at", "warn_at", "due_at"):
            select.append(f"((extract(epoch from {column}) - {bulk.EPOCH_2000}) * 1e6)::bigint")
        else:
            select.append(column)
    cursor.execute(f"SELECT {', '.join(select)} FROM cases_case ORDER BY id")
    return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in cursor]


def fresh_batch() -> tuple:
    """The generator on FRESH cases and the raw COPY floor, both into emptied case tables,
    in one transaction rolled back at the end."""
    tables = ", ".join(model._meta.db_table for model in CASE_TABLES)
    with transaction.atomic():
        with connection.cursor() as cursor:
            # CASCADE: the tables of other apps that refer to cases (clocks, facts, feeds) go too,
            # inside this transaction that is rolled back.
            cursor.execute(f"TRUNCATE {tables} CASCADE")
        empty = transaction.savepoint()
        stats = generate_cases(cases=FRESH, rebuild_indexes=True)
        with connection.cursor() as cursor:
            rows = wire_rows(cursor.cursor)
        transaction.savepoint_rollback(empty)

        with connection.cursor() as wrapper:
            cursor = wrapper.cursor
            types = bulk.wire_types(cursor, "cases_case", CASE_COLUMNS)
            started = time.perf_counter()
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            dropped = bulk.drop_secondary(cursor, "cases_case")
            copied = time.perf_counter()
            bulk.copy_binary(cursor, "cases_case", CASE_COLUMNS, types, rows)
            indexed = time.perf_counter()
            bulk.restore_indexes(cursor, dropped)
            keyed = time.perf_counter()
            bulk.restore_foreign_keys(cursor, dropped)
            finished = time.perf_counter()
        transaction.set_rollback(True)
    floor = {
        "copy": indexed - copied,
        "indexes": keyed - indexed,
        "keys": finished - keyed,
        "total": finished - started,
    }
    return stats, floor, len(rows)


def inbox_officer() -> tuple[User, int]:
    """A demo officer in the department holding the most open cases of the inbox."""
    busiest = (
        Case.objects.filter(stage__in=INBOX_STAGES, department__isnull=False)
        .values("department")
        .order_by()
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    officer = (
        User.objects.filter(
            is_active=True,
            role_grants__role=Role.OFFICER,
            memberships__department=busiest["department"],
        )
        .order_by("username")
        .first()
    )
    return officer, busiest["n"]


def explain(sql: str) -> str:
    """The inbox plan in brief: which indexes it reads, and planning and execution time."""
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, SUMMARY) " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    indexes = sorted(set(re.findall(r"Index (?:Only )?Scan using (\w+)", plan)))
    sorts = re.findall(r"Sort Method: ([\w-]+ ?\w*)", plan)
    planning = re.search(r"Planning Time: ([\d.]+)", plan).group(1)
    execution = re.search(r"Execution Time: ([\d.]+)", plan).group(1)
    return (
        f"indexes {', '.join(indexes)}; sorts {', '.join(sorts) or 'none'};"
        f" planning {planning} ms, execution {execution} ms"
    )


def inbox() -> None:
    officer, open_cases = inbox_officer()
    client = Client(HTTP_HOST="localhost")
    client.force_login(officer)
    for _ in range(WARM_UP):
        assert client.get("/cases/inbox/").status_code == 200
        client.get("/healthz")
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/cases/inbox/")
    captured = list(queries.captured_queries)
    listed = response.content.count(b'<li class="case-row')
    sql = max(captured, key=lambda q: float(q["time"]))["sql"]

    # Page and bare view take turns, so that drift in the machine's speed hits both alike.
    page, bare = [], []
    for _ in range(INBOX_REQUESTS):
        begin = time.perf_counter()
        client.get("/cases/inbox/")
        page.append(time.perf_counter() - begin)
        begin = time.perf_counter()
        client.get("/healthz")
        bare.append(time.perf_counter() - begin)
    raw = []
    with connection.cursor() as cursor:
        for _ in range(50):
            begin = time.perf_counter()
            cursor.execute(sql)
            cursor.fetchall()
            raw.append(time.perf_counter() - begin)
    print(
        f"inbox of {officer.username} ({open_cases:,} open cases in the department):"
        f" {listed} listed, {len(captured)} queries; the case query: {explain(sql)}"
    )
    report(
        f"officer inbox page with {Case.objects.count():,} cases, in-process",
        goal=f"median < {GOAL_MS} ms",
        figure=(
            f"median {median_ms(page):.1f} ms, p95 {percentile(page, 95) * 1000:.1f} ms"
            f" ({INBOX_REQUESTS} GETs)"
        ),
        floor=(
            f"bare view median {median_ms(bare):.2f} ms; the inbox SQL alone median"
            f" {median_ms(raw):.1f} ms"
        ),
        ok=median_ms(page) < GOAL_MS,
    )


def run() -> None:
    if connection.vendor != "postgresql":
        print(
            "synthetic cases and the inbox at 1M: skipped, needs PostGIS"
            f" (DATABASE_URL=postgis://...); this run is on {connection.vendor}\n"
        )
        return
    print(f"stored cases: {ensure_stored()}")
    stats, floor, rows = fresh_batch()
    assert rows == FRESH == stats.cases, (rows, stats.cases)
    events_share = stats.seconds("events") / max(1e-9, stats.seconds_total)
    print(
        f"fresh batch: {stats.cases:,} cases, {stats.events:,} events, {stats.reporters:,}"
        f" reporters, {stats.requests:,} requests in {stats.seconds_total:.1f} s ({stats.mode});"
        f" {steps(stats)}; {'; '.join(stats.notes)}"
    )
    report(
        f"generate_cases, {FRESH:,} fresh cases into the case tables (PostGIS, bulk path)",
        goal=f">= {GOAL_RATE:,} cases/s",
        # A case is generated with its history: the goal is judged on the overall rate.
        figure=(
            f"{stats.overall_per_second:,.0f} cases/s with their events and everything"
            f" else; the case rows alone {stats.cases_per_second:,.0f} cases/s (simulation +"
            f" rows, indexes, keys); events {stats.events_per_second:,.0f} rows/s"
            f" ({events_share:.0%} of the run)"
        ),
        floor=(
            f"raw binary COPY of the same {rows:,} case rows + rebuild"
            f" {rows / floor['total']:,.0f} rows/s (copy {floor['copy']:.1f} s, indexes"
            f" {floor['indexes']:.1f} s, keys {floor['keys']:.1f} s)"
        ),
        ok=stats.overall_per_second >= GOAL_RATE,
    )
    inbox()
