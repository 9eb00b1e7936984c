"""Evaluation scores and grades for a period, read from the daily roll-ups (stats.DailyFact),
never from the cases themselves: a handful of grouped sums whatever the number of cases.

Each indicator is a rate in [0, 1]; its score is 100 × the rate, or 100 × (1 − rate) for an
indicator where lower is better. A subject's score is the weighted mean of the scores of the
indicators that have a value in the period (an indicator with nothing to count is left out
of both the sum and the weights). Weights and grade thresholds are rows an administrator sets.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Sum

from grids.models import Area, UnitGrid
from org.models import Department
from stats.figures import COMMUNITY, DISTRICT, GRID, STREET, Period, Scope
from stats.models import DailyFact

from .models import Grade, Kpi, KpiWeight, Subject

COUNTS = (
    "filed", "public_filed", "due", "due_closed", "due_on_time", "disposed", "reworks",
    "dispatched", "returns", "voided",
)  # fmt: skip
LOWER_IS_BETTER = {Kpi.PUBLIC, Kpi.REWORK, Kpi.RETURN}
LEVELS = {"street": STREET, "community": COMMUNITY, "grid": GRID}


def ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def kpi_values(t: dict[str, int]) -> dict[str, float | None]:
    return {
        Kpi.CLOSURE: ratio(t["due_closed"], t["due"]),
        Kpi.ON_TIME: ratio(t["due_on_time"], t["due"]),
        Kpi.PUBLIC: ratio(t["public_filed"], t["filed"]),
        Kpi.REWORK: ratio(t["reworks"], t["disposed"]),
        Kpi.RETURN: ratio(t["returns"], t["dispatched"]),
        Kpi.ACCURATE_FILING: ratio(t["filed"] - t["voided"], t["filed"]),
        Kpi.ACCURATE_DISPATCH: ratio(t["dispatched"] - t["returns"], t["dispatched"]),
    }


@dataclass
class Result:
    subject: str
    key: int | str
    name: str
    counts: dict
    values: dict  # kpi -> rate or None, for the indicators weighed for this subject
    score: float | None
    grade: str
    extra: dict = field(default_factory=dict)
    rank: int | None = None  # among the rows of its table; None: nothing to score


class Rules:
    """The weights and grade thresholds in force, read once per evaluation."""

    def __init__(self):
        self.weights: dict[str, dict[str, Decimal]] = {}
        for w in KpiWeight.objects.all():
            self.weights.setdefault(w.subject, {})[w.kpi] = w.weight
        self.grades = list(Grade.objects.order_by("-minimum").values_list("letter", "minimum"))

    def score(self, subject: str, values: dict) -> float | None:
        total = weighed = 0.0
        for kpi, weight in self.weights.get(subject, {}).items():
            value = values.get(kpi)
            if value is None or not weight:
                continue
            part = 1 - value if kpi in LOWER_IS_BETTER else value
            total += float(weight) * 100 * part
            weighed += float(weight)
        return total / weighed if weighed else None

    def grade(self, score: float | None) -> str:
        if score is None:
            return "—"
        for letter, minimum in self.grades:
            if score >= float(minimum) - 1e-9:
                return letter
        return "—"

    def result(self, subject, key, name, counts) -> Result:
        values = kpi_values(counts)
        weighed = {k: values[k] for k in self.weights.get(subject, {})}
        score = self.score(subject, values)
        return Result(subject, key, str(name), counts, weighed, score, self.grade(score))


def _rows(level: int, scope: Scope, period: Period):
    rows = DailyFact.objects.filter(level=level, day__range=(period.start, period.end))
    if scope.departments is not None:
        rows = rows.filter(department__in=scope.departments)
    if scope.grids is not None:
        rows = rows.filter(level=GRID, grid__in=scope.grids)
    return rows


def _sums(queryset, by: str | None):
    sums = {c: Sum(c) for c in COUNTS}
    if by is None:
        found = queryset.aggregate(**sums)
        return {None: {c: found[c] or 0 for c in COUNTS}}
    return {
        row[by]: {c: row[c] or 0 for c in COUNTS}
        for row in queryset.values(by).annotate(**sums).order_by(by)
    }


def areas(level_name: str, scope: Scope, period: Period, rules: Rules) -> list[Result]:
    level = LEVELS[level_name]
    field_name = ("district", "street", "community", "grid")[level]
    sums = _sums(_rows(level, scope, period), field_name)
    if level == GRID:
        names = dict(UnitGrid.objects.filter(pk__in=sums).values_list("pk", "code"))
    else:
        names = dict(Area.objects.filter(pk__in=sums).values_list("pk", "name"))
    # Key 0 holds the cases outside every area (no grid covers them): no area to rank.
    return ranked(
        [
            rules.result(Subject.AREA, key, names.get(key, str(key)), t)
            for key, t in sums.items()
            if key
        ]
    )


def departments(scope: Scope, period: Period, rules: Rules) -> list[Result]:
    sums = _sums(_rows(DISTRICT, scope, period), "department")
    names = dict(Department.objects.filter(pk__in=sums).values_list("pk", "name"))
    return ranked(
        [
            rules.result(Subject.DEPARTMENT, key, names.get(key, "—"), t)
            for key, t in sums.items()
            if key
        ]
    )


def ranked(results: list[Result]) -> list[Result]:
    """Best score first, each given its rank. Scores equal to the one decimal a page
    shows share a rank, and the next rank skips as many (1, 2, 2, 4); within a rank by
    name. Rows with nothing to score come last, unranked."""

    def shown(r: Result) -> float | None:
        return None if r.score is None else round(r.score, 1)

    order = sorted(results, key=lambda r: (shown(r) is None, -(shown(r) or 0), r.name))
    before = None
    for place, r in enumerate(order, 1):
        if shown(r) is None:
            break
        r.rank = before.rank if before and shown(before) == shown(r) else place
        before = r
    return order


POSTS = (Subject.GRID_WORKER, Subject.DISPATCHER, Subject.SHIFT_LEADER)


def posts(scope: Scope, period: Period, rules: Rules) -> list[Result]:
    """Each post as a whole (every person holding it), over everything in scope."""
    t = _sums(_rows(DISTRICT, scope, period), None)[None]
    return [rules.result(post, post.value, post.label, t) for post in POSTS]


def evaluate(scope: Scope, period: Period, level: str = "street") -> dict:
    rules = Rules()
    return {
        "areas": areas(level, scope, period, rules),
        "departments": departments(scope, period, rules),
        "posts": posts(scope, period, rules),
        "weights": rules.weights,
        "grades": rules.grades,
    }
