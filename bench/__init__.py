"""Benchmarks: each prints its goal, its figure and the floor it is compared with.

`make bench` runs every ``bench/bench_*.py`` module's ``run()`` against PostGIS and Redis.
The machine is shared and noisy, so figures are compared with a floor measured in the same
run (raw SQL, a bare view), never with a fixed number.
"""

import statistics
import time
from collections.abc import Callable


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    """Seconds per call, for ``repeat`` calls."""
    samples = []
    for _ in range(repeat):
        begin = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - begin)
    return samples


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def report(name: str, *, goal: str, figure: str, floor: str, ok: bool | None = None) -> None:
    verdict = "" if ok is None else ("  [meets goal]" if ok else "  [MISSES GOAL]")
    print(f"{name}\n  goal:   {goal}\n  figure: {figure}\n  floor:  {floor}{verdict}\n")


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


# The tables filing and routing write, and the small ones whose few rows every case updates.
WRITTEN = (
    "cases_case", "cases_caseevent", "cases_casereporter", "cases_casenumbercounter",
    "cases_departmentpolicy", "clocks_clock", "clocks_clockstep", "maps_mapversion",
)  # fmt: skip


def vacuum(tables: tuple[str, ...] = WRITTEN) -> None:
    """What autovacuum does on a production server (this machine's PostgreSQL runs with it
    off): without it, the dead versions of the rows every case updates pile up (a thousand
    of a department's policy row after one run), and each read walks through them."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    begin = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {', '.join(tables)}")
    print(
        f"VACUUM (ANALYZE) of the tables written: {time.perf_counter() - begin:.1f} s", flush=True
    )
