"""Routing through the real Redis broker and a real Celery worker process (PostGIS + Redis).

Cases are reports sampled from the stored cases of the demo district (their category,
place and urgency, so the mix of categories and departments is the generator's),
registered and filed by the command centre at once, as the API does for a call filed
at once (``new_case`` and ``take("file")``: one statement); once committed, the filing
wakes the routing queue (a ``route_case`` task, unless one already waits there) for the
worker (two pool processes, as in production).

(a) Filed -> assigned latency at a steady 50 cases/s: the routing event's time minus the
    filing event's time (both written inside their transactions, just before commit).
    Floor: a no-op task sent through the same broker to the same worker at the same rate,
    from just before sending to the moment it runs. Filing and floor take turns in rounds.
(b) Routing throughput: a backlog of filed cases waiting for routing, routed by the
    worker started on it (a batch per task, each task sending the next): cases over the
    time between the first and the last routing event. Floor: the same decision (the
    first active rule by priority that matches the category, urgency, area, grid and
    drawn shape) in raw SQL for the same cases, one query per case and one for all.

Every department is on a round-the-clock calendar while the benchmark runs (and back to
its own afterwards), so that an officer is assigned at any hour. The filed cases stay in
the benchmark database (events cannot be deleted); each run adds about 2,000.
"""

import multiprocessing
import os
import statistics
import time
from contextlib import contextmanager

from django.contrib.gis.geos import Point
from django.db import connection, connections

from bench import percentile, report, vacuum
from bench import worker as bench_worker
from bench.tasks import NOOP_KEY, client, noop
from cases.models import (
    OPEN_STAGES,
    Case,
    CaseEvent,
    Category,
    DepartmentPolicy,
    Source,
    WorkingCalendar,
)
from cases.services import new_case
from cases.synthetic import generate_cases
from governance.celery import purge_queues
from org.models import Department, Role, User

RATE = 50  # cases (and floor tasks) per second
ROUNDS = 3
PER_ROUND = 250  # 5 s at 50/s
GOAL_P95_MS = 250
BACKLOG = 2000
GOAL_RATE = 300
FILERS = 3  # processes filing, each with its own connection: one filing takes ~17 ms of CPU
ROUTED = ("dispatch", "route_none")
ROUND_THE_CLOCK = "基准测试：全天候"

DECIDE = """
SELECT r.id FROM cases_routingrule r
JOIN org_department d ON d.id = r.department_id
LEFT JOIN cases_category rc ON rc.id = r.category_id
WHERE r.is_active AND d.is_active
  AND (r.category_id IS NULL OR starts_with(cc.full_code, rc.full_code))
  AND (r.urgency = '' OR r.urgency = c.urgency)
  AND (r.area_id IS NULL OR r.area_id IN (c.community_id, c.street_id, c.district_id))
  AND (r.grid_code = '' OR r.grid_code = g.code)
  AND (r.shape IS NULL OR ST_Contains(r.shape, c.point))
ORDER BY r.priority, r.id LIMIT 1
"""
FROM_CASE = (
    " FROM cases_case c JOIN cases_category cc ON cc.id = c.category_id"
    " LEFT JOIN grids_unitgrid g ON g.id = c.grid_id"
)
DECIDE_ONE = f"SELECT ({DECIDE}){FROM_CASE} WHERE c.id = %s"
DECIDE_ALL = f"SELECT c.id, ({DECIDE}){FROM_CASE} WHERE c.id = ANY(%s)"


@contextmanager
def round_the_clock():
    """Every active department on duty at any hour, for the duration."""
    calendar, _ = WorkingCalendar.objects.get_or_create(
        name=ROUND_THE_CLOCK,
        defaults={
            "periods": {str(d): [["00:00", "23:59:59.999999"]] for d in range(7)},
            "follows_national": False,
        },
    )
    had = dict(DepartmentPolicy.objects.values_list("department_id", "calendar_id"))
    for department in Department.objects.filter(is_active=True):
        DepartmentPolicy.objects.update_or_create(
            department=department, defaults={"calendar": calendar}
        )
    try:
        yield
    finally:
        for policy in DepartmentPolicy.objects.all():
            if policy.department_id in had:
                policy.calendar_id = had[policy.department_id]
                policy.save(update_fields=["calendar"])
            else:
                policy.delete()


def reports(count: int) -> list[tuple]:
    """(category, x, y, urgency) of stored cases in unit grids, in random order."""
    if Case.objects.filter(grid__isnull=False).count() < 5 * count:
        generate_cases(cases=10 * count)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT category_id, ST_X(point), ST_Y(point), urgency FROM cases_case"
            " TABLESAMPLE SYSTEM (1) WHERE grid_id IS NOT NULL ORDER BY random() LIMIT %s",
            [count],
        )
        rows = cursor.fetchall()
    categories = Category.objects.in_bulk({row[0] for row in rows})
    return [(categories[c], x, y, urgency) for c, x, y, urgency in rows]


_filing: dict = {}


def _file_one(i: int) -> tuple[int, int]:
    """In a filer process: file report ``i`` at its moment (or at once)."""
    begin, rate, specs = _filing["begin"], _filing["rate"], _filing["specs"]
    if rate:
        time.sleep(max(0.0, begin + i / rate - time.time()))
    category, x, y, urgency = specs[i]
    dispatcher = _filing["dispatcher"]
    with new_case(
        reporter=dispatcher,
        source=Source.LEADER,
        point=Point(x, y, srid=4326),
        category=category,
        description="路由基准测试",
        urgency=urgency,
    ) as new:
        new.take("file", dispatcher)
    return i, new.case.pk


def file_all(specs: list[tuple], rate: float | None) -> tuple[list[int], float]:
    """File the reports (at ``rate`` per second, or as fast as FILERS processes can), as
    people's requests would: each filer a process of its own with its own connection (in
    threads of one process, Python ran one filing at a time and 50/s was out of reach);
    the new cases' ids and the seconds it took."""
    _filing.update(
        specs=specs,
        rate=rate,
        begin=time.time() + 0.5,
        dispatcher=User.objects.filter(role_grants__role=Role.DISPATCHER, is_active=True).first(),
    )
    connections.close_all()  # each process opens its own
    ids: list[int | None] = [None] * len(specs)
    with multiprocessing.get_context("fork").Pool(
        FILERS, initializer=connections.close_all
    ) as pool:
        for i, case_id in pool.imap_unordered(_file_one, range(len(specs))):
            ids[i] = case_id
    return ids, time.time() - _filing["begin"]


def drain() -> None:
    """Wait for the routing queue to empty: the tasks of cases another task's batch routed
    find nothing to do, but they are still tasks the worker takes in turn."""
    redis = client()
    deadline = time.monotonic() + 120
    while redis.llen("routing") and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1)


def wait_routed(ids: list[int], seconds: float = 900) -> None:
    deadline = time.monotonic() + seconds
    while True:
        done = CaseEvent.objects.filter(case_id__in=ids, action__in=ROUTED).count()
        if done >= len(ids):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {done} of {len(ids)} cases routed after {seconds} s")
        time.sleep(0.2)


def routing_events(ids: list[int]) -> dict[int, CaseEvent]:
    return {
        event.case_id: event
        for event in CaseEvent.objects.filter(case_id__in=ids, action__in=ROUTED).order_by("-at")
    }


def latencies(ids: list[int]) -> tuple[list[float], int]:
    """Seconds from each filing to its assignment; and how many were routed but not
    assigned (no rule, or nobody in the department)."""
    filed = dict(
        CaseEvent.objects.filter(case_id__in=ids, action="file").values_list("case_id", "at")
    )
    out, unassigned = [], 0
    for case_id, event in routing_events(ids).items():
        if event.action == "dispatch" and event.payload.get("assignee"):
            out.append((event.at - filed[case_id]).total_seconds())
        else:
            unassigned += 1
    return out, unassigned


def noop_round(count: int, rate: float) -> list[float]:
    redis = client()
    redis.delete(NOOP_KEY)
    begin = time.perf_counter() + 0.1
    for i in range(count):
        time.sleep(max(0.0, begin + i / rate - time.perf_counter()))
        noop.delay(time.time())
    deadline = time.monotonic() + 120
    while redis.llen(NOOP_KEY) < count:
        if time.monotonic() > deadline:
            raise RuntimeError("the no-op tasks did not all run")
        time.sleep(0.1)
    out = []
    for item in redis.lrange(NOOP_KEY, 0, -1):
        sent, ran = map(float, item.split())
        out.append(ran - sent)
    return out


def machine() -> tuple[int, int]:
    """(all, idle) CPU ticks of the machine since boot."""
    with open("/proc/stat") as f:
        ticks = [int(n) for n in f.readline().split()[1:]]
    return sum(ticks), ticks[3] + ticks[4]


def cpu_by_part() -> dict[str, float]:
    """CPU seconds used so far by the filers (this process and its reaped children), the
    Celery worker, and PostgreSQL (its exited backends count under the postmaster)."""
    tick = os.sysconf("SC_CLK_TCK")
    parts: dict[str, float] = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                command = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        seconds = sum(int(n) for n in fields[11:15]) / tick
        if int(pid) == os.getpid():
            part = "filing"
        elif "celery" in command:
            part = "worker"
        elif "postgres" in command:
            part = "PostgreSQL"
        else:
            continue
        parts[part] = parts.get(part, 0.0) + seconds
    return parts


def ms(samples: list[float]) -> str:
    return (
        f"p50 {statistics.median(samples) * 1000:.0f} ms,"
        f" p95 {percentile(samples, 95) * 1000:.0f} ms ({len(samples)} cases)"
    )


def recalculation(workers: list) -> None:
    """Changing the departments' calendars asked for a recalculation of every open clock.
    A worker runs it to the end first, so that the figures below measure routing alone;
    its time is printed (chunks of CLOCKS_RECALCULATION_CHUNK cases, one task each)."""
    from django.conf import settings

    from clocks.models import Recalculation

    open_cases = Case.objects.filter(stage__in=OPEN_STAGES).count()
    started = time.perf_counter()
    worker = bench_worker.start()
    workers.append(worker)
    deadline = time.monotonic() + 1800
    while Recalculation.objects.filter(finished_at__isnull=True).exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the recalculation of open clocks did not finish in 30 minutes")
        time.sleep(0.5)
    print(
        f"recalculation of the open clocks of {open_cases:,} open cases after the calendar"
        f" change: {time.perf_counter() - started:.1f} s with the worker's start (chunks of"
        f" {settings.CLOCKS_RECALCULATION_CHUNK}, one task each)",
        flush=True,
    )
    bench_worker.stop(worker)
    workers.remove(worker)
    purge_queues()


def settle() -> None:
    """Route, here and now, the cases left waiting by earlier runs (bench_api files cases
    with no worker running): routing takes the oldest first, so a backlog behind them
    would be measured with them."""
    from cases.routing import cases_route

    left = list(Case.objects.filter(needs_routing=True).values_list("pk", flat=True))
    count, begin = len(left), time.perf_counter()
    while left:
        routed = cases_route(left[0], also=999)
        left = [pk for pk in left if pk not in routed and pk != left[0]]
    waiting = Case.objects.filter(needs_routing=True).count()
    print(f"left waiting by earlier runs: {count:,}, routed first in"
          f" {time.perf_counter() - begin:.1f} s; {waiting} still waiting", flush=True)  # fmt: skip


def throughput(specs: list[tuple], workers: list) -> None:
    """File the backlog with no worker running, then start the worker on it (and leave it
    in ``workers``)."""
    settle()
    ids, filing = file_all(specs, None)
    print(
        f"backlog: {len(ids):,} cases filed in {filing:.1f} s ({len(ids) / filing:.0f}/s)"
        " with no worker running",
        flush=True,
    )
    started = time.perf_counter()
    workers.append(bench_worker.start())
    ready = time.perf_counter()
    wait_routed(ids)
    drained = time.perf_counter()
    times = sorted(event.at for event in routing_events(ids).values())
    span = (times[-1] - times[0]).total_seconds()
    rate = (len(times) - 1) / max(span, 1e-9)
    print(
        f"worker ready in {ready - started:.1f} s; backlog drained {drained - ready:.1f} s"
        " after it was ready",
        flush=True,
    )
    routed = Case.objects.filter(pk__in=ids)
    by_rule = dict(routed.values_list("pk", "routing_rule_id"))
    assigned = routed.exclude(assignee=None).count()

    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg: server-side prepared after a few executions
        for case_id in ids[:50]:  # warm-up
            raw.execute(DECIDE_ONE, [case_id], prepare=True)
            raw.fetchone()
        begin = time.perf_counter()
        decided = {}
        for case_id in ids:
            raw.execute(DECIDE_ONE, [case_id], prepare=True)
            decided[case_id] = raw.fetchone()[0]
        one = time.perf_counter() - begin
        begin = time.perf_counter()
        raw.execute(DECIDE_ALL, [ids])
        together = dict(raw.fetchall())
        set_based = time.perf_counter() - begin
    disagree = sum(1 for pk in ids if decided[pk] != by_rule[pk] or together[pk] != by_rule[pk])
    report(
        f"routing throughput, a backlog of {len(ids):,} filed cases, 1 worker x 2 processes",
        goal=f">= {GOAL_RATE} cases/s",
        figure=(
            f"{rate:,.0f} cases/s ({len(times):,} routed in {span:.1f} s; {assigned:,}"
            f" assigned; the decision differs from raw SQL for {disagree})"
        ),
        floor=(
            f"the decision in raw SQL: {len(ids) / one:,.0f} cases/s one query per case,"
            f" {len(ids) / set_based:,.0f} cases/s in one query"
        ),
        ok=rate >= GOAL_RATE,
    )


def latency(specs: list[tuple]) -> None:
    figure, floor, unassigned, achieved = [], [], 0, []
    used: dict[str, float] = {}
    busy = [0, 0]
    for round_ in range(ROUNDS):
        drain()
        floor += noop_round(PER_ROUND, RATE)
        chunk = specs[round_ * PER_ROUND : (round_ + 1) * PER_ROUND]
        before, (total, idle) = cpu_by_part(), machine()
        ids, seconds = file_all(chunk, RATE)
        achieved.append(len(ids) / seconds)
        wait_routed(ids)
        after, (total_after, idle_after) = cpu_by_part(), machine()
        for part, spent in after.items():
            used[part] = used.get(part, 0.0) + spent - before.get(part, 0.0)
        busy[0] += (total_after - total) - (idle_after - idle)
        busy[1] += total_after - total
        found, missed = latencies(ids)
        figure += found
        unassigned += missed
    cases = ROUNDS * PER_ROUND
    print(
        "CPU per case while filing and routing: "
        + ", ".join(f"{part} {1000 * used[part] / cases:.1f} ms" for part in sorted(used))
        + f"; the machine's {os.cpu_count()} cores {100 * busy[0] / max(busy[1], 1):.0f} % busy",
        flush=True,
    )
    p95 = percentile(figure, 95) * 1000
    report(
        f"filed -> assigned latency at {RATE} cases/s through Redis and a worker",
        goal=f"p95 < {GOAL_P95_MS} ms",
        figure=(
            f"{ms(figure)}; filing ran at {min(achieved):.0f}-{max(achieved):.0f}/s;"
            f" {unassigned} routed without an assignee"
        ),
        floor=f"a no-op task through the same broker and worker at {RATE}/s: {ms(floor)}",
        ok=p95 < GOAL_P95_MS,
    )


def run() -> None:
    from django.conf import settings

    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        print(
            "routing through the broker: skipped, needs PostGIS and Redis"
            " (DATABASE_URL=postgis://..., REDIS_URL=redis://...)\n"
        )
        return
    specs = reports(BACKLOG + ROUNDS * PER_ROUND)
    categories = len({category.pk for category, *_ in specs})
    print(f"reports: {len(specs):,} sampled from stored cases, {categories} categories", flush=True)
    purge_queues()
    workers: list = []
    with round_the_clock():
        try:
            recalculation(workers)
            vacuum()
            throughput(specs[:BACKLOG], workers)
            vacuum()
            latency(specs[BACKLOG:])
        finally:
            for process in workers:
                bench_worker.stop(process)
            purge_queues()
