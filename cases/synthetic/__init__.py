"""Synthetic cases over the demo district, for demos and benchmarks (``manage.py generate_cases``).

Each case lives a plausible life, written as the workflow would have written it: a report
in a real unit grid by the worker responsible for it (or a citizen's call), filing with a
number and a deadline from its filing condition, dispatch to the department that owns its
category, handling, the on-site check, and the exception branches (verification, rework,
return, extension, hold, void, merge, self-handling) for some. Every transition is a
``CaseEvent`` whose stages chain from "" to the case's stage; each case has its
``CaseReporter`` row; approval requests are ``CaseRequest`` rows. No photos are made.

What is realistic, and where the figures come from:

* categories in the proportions of a month of a Beijing district (Daxing: city appearance
  ~65 %, street order ~24 %, publicity ~3 %, components ~5 %), see ``MAJOR_SHARE``;
* places clustered in a few dozen Gaussian hotspots over a uniform background, and within a
  grid around a few fixed spots (a corner, a market gate) where problems recur;
* report times over the last months, fewer at weekends and on holidays, by hour of day
  (patrol shifts in the day, the hotline into the evening);
* most cases closed, about 95 % of them by their deadline, the rest of the mix not
  accepted, voided, merged into an earlier report, self-handled; a case whose life is still
  running at the time of generation stops where it has got to, so recent cases are open in
  the stages they would be in, and a small backlog has been stuck for weeks (``mix``).

Speed: on PostgreSQL rows go in with binary COPY (``cases.bulk``). When a run at least
doubles the case table, the secondary indexes and foreign keys of the four case tables are
dropped first and rebuilt at the end, in the same transaction, as PostgreSQL's "Populating a
Database" advises: the case table has 22 indexes and 12 foreign keys, and COPY into it with
them in place runs at about 10,000 rows/s here against about 25,000-35,000 with the rebuild
(bench/bench_cases.py). Smaller runs append in committed batches with the indexes in place.
On SpatiaLite rows go in with ``bulk_create``.
"""

import datetime
import gc
import os
import random
import time
from collections.abc import Callable

from django.db import connection, transaction
from django.utils import timezone

from ..models import CalendarDay, Case, CaseNumberCounter
from . import pipeline
from .life import Clock, Simulator, make_plan, simulate
from .world import NoDemoDistrict, ensure_demo, load_world, months_back
from .writers import CASE_COLUMNS, OrmWriter, PostgresWriter, Stats

__all__ = ["CASE_COLUMNS", "NoDemoDistrict", "Stats", "generate_cases", "months_back"]


def read_counters(**days) -> dict[tuple[str, datetime.date], int]:
    found = CaseNumberCounter.objects.filter(**days).values_list("prefix", "day", "last")
    return {(prefix, day): last for prefix, day, last in found}


def generate_cases(
    *,
    cases: int,
    months: int = 6,
    seed: int = 1,
    batch: int = 10_000,
    rebuild_indexes: bool | None = None,
    load_demo: bool = True,
    parallel: bool | None = None,
    progress: Callable[[Stats], None] | None = None,
) -> Stats:
    """Add ``cases`` synthetic cases reported over the last ``months`` months.

    ``rebuild_indexes`` (PostgreSQL): drop and rebuild the case tables' secondary indexes
    and foreign keys around the load, all in one transaction; by default when the run at
    least doubles the case table. Otherwise each batch commits on its own.

    ``parallel`` (with a rebuild of more than one batch): a second process simulates and
    encodes the next batch while this one writes the last; by default with two or more
    CPUs. The cases are the same either way.
    """
    if cases <= 0:
        raise ValueError("Give a positive number of cases.")
    started = time.perf_counter()
    stats = Stats(loaded_demo=ensure_demo(load_demo))
    rng = random.Random(seed)
    zone = timezone.get_current_timezone()
    now = int(timezone.now().timestamp())
    today = timezone.localdate()
    first_day = months_back(today, months)
    # Deadlines and extensions run past today; keep the prepared calendar well beyond.
    world = load_world(
        rng, first_day - datetime.timedelta(days=2), today + datetime.timedelta(days=400)
    )
    stats.notes.extend(world.notes)
    conditions = [c for category in world.categories for c in category.conditions]
    start_moment = int(datetime.datetime.combine(first_day, datetime.time(), zone).timestamp())
    world.time.check_against(rng, conditions, start_moment, now)

    holidays = set(
        CalendarDay.objects.filter(
            calendar__isnull=True, kind=CalendarDay.Kind.HOLIDAY, day__gte=first_day
        ).values_list("day", flat=True)
    )
    clock = Clock(first_day, now, zone, holidays)
    plan = make_plan(rng, cases, clock)

    postgres = connection.vendor == "postgresql"
    if postgres:
        if rebuild_indexes is None:
            rebuild_indexes = cases >= Case.objects.count()
        writer: PostgresWriter | OrmWriter = PostgresWriter(rebuild_indexes)
        stats.mode = "COPY, indexes rebuilt" if rebuild_indexes else "COPY into indexed tables"
    else:
        writer = OrmWriter()
        stats.mode = "bulk_create"

    def run_batches() -> None:
        writer.begin()
        for begin, end in pipeline.bounds(len(plan), batch):
            chunk = plan[begin:end]
            with transaction.atomic():
                simulate_started = time.perf_counter()
                # Filings wait until the batch commits, so that none takes a number it
                # issues; they only ever number today's cases, so today's counters are
                # the only ones that can have moved since the last batch.
                writer.lock_counters()
                counters.update(read_counters(day=today))
                simulator.counters = dict(counters)
                records = simulate(simulator, chunk, writer.take_ids("case", len(chunk)))
                stats.add("simulate", time.perf_counter() - simulate_started)
                writer.write(records, stats)
                issued = {k: v for k, v in simulator.counters.items() if counters.get(k, 0) != v}
                writer.save_counters(issued)
                counters.update(issued)
            stats.cases += len(records)
            stats.seconds_total = time.perf_counter() - started
            if progress:
                progress(stats)
        writer.finish(stats)

    def run_pipelined() -> None:
        """The same batches, simulated and encoded as COPY streams by a second process
        while this one sends the previous batch to the server. Only inside the one
        transaction of a rebuild: the counters' lock, taken once, is held to the end."""
        writer.begin()
        prepared = time.perf_counter()
        writer.lock_counters()
        counters.update(read_counters(day=today))
        simulator.counters = dict(counters)
        case_ids = writer.take_ids("case", len(plan))
        # The child has no connection: it numbers requests from ids taken beforehand, with
        # room to spare (about 8 % of cases ask for something); the rest are left unused.
        simulator.reserve_requests(writer.take_ids("request", len(plan) // 5 + 1000))
        stats.add("simulate", time.perf_counter() - prepared)
        produced = pipeline.start(simulator, writer, plan, case_ids, batch, dict(counters))
        waited = 0.0
        try:
            while True:
                waiting = time.perf_counter()
                item = next(produced, None)
                waited += time.perf_counter() - waiting
                if item is None:
                    break
                size, issued, streams = item
                writer.send(streams, stats)
                writer.save_counters(issued)
                stats.cases += size
                stats.seconds_total = time.perf_counter() - started
                if progress:
                    progress(stats)
        finally:
            simulated = pipeline.stop(produced)
        # The writer's time spent waiting for the simulation counts as simulating; the rest
        # of the simulation ran alongside the writes.
        stats.add("simulate", waited)
        stats.notes.append(
            f"simulation in a second process alongside the writes: {simulated:.1f} s,"
            f" of which the writer waited {waited:.1f} s"
        )
        writer.finish(stats)

    # The numbers issued so far on each day of the period, continued from here.
    counters = read_counters(day__gte=first_day)
    simulator = Simulator(world, rng, now, writer.take_ids)
    # Millions of small tuples and no reference cycles: without this the cyclic collector
    # rescans the growing batch again and again (a third of the simulation's time).
    collecting = gc.isenabled()
    gc.disable()
    if parallel is None:
        parallel = (os.cpu_count() or 1) > 1
    try:
        if writer.rebuild:
            # One transaction: should anything fail, the indexes and keys come back with it.
            with transaction.atomic():
                if parallel and len(plan) > batch:
                    stats.mode += ", simulated in parallel"
                    run_pipelined()
                else:
                    run_batches()
        else:
            run_batches()
    finally:
        if collecting:
            gc.enable()
    if postgres:
        analyze_started = time.perf_counter()
        writer.analyze()
        stats.notes.append(f"ANALYZE {time.perf_counter() - analyze_started:.1f} s")
    stats.seconds_total = time.perf_counter() - started
    return stats
