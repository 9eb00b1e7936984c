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
