"""The dashboard's figures for a place, a period and a person's scope, read from the roll-ups,
and the lists of cases behind each figure (read from the per-case facts with the same
definitions, so that a list holds exactly the cases its figure counts).

Definitions (GB/T 30428.4; DOMAIN.md §6), for a period of whole local days:

* reported, filed, closed: reports received, cases filed (立案), cases closed after the
  on-site check (结案) in the period;
* closure rate (结案率) = of the cases filed in the period and due to close (not voided or
  merged), those closed so far; on-time closure rate (按期结案率): those closed by their
  deadline, over the same denominator;
* public-report rate (监督举报率) = filed cases that came from the hotline or the public /
  cases filed in the period;
* rework rate (返工率) = failed on-site checks / reports of done (处置数) in the period;
* return rate (回退率) = approved returns / dispatches in the period;
* handling time: filing to closing, time on hold left out, of the cases closed in the period;
  wall clock, and working time on the department's calendar; the P90 comes from a histogram
  and is at most 9 % above the exact value;
* backlog (积压): filed cases not yet closed or ended at the end of the period, by age since
  filing; overdue (超期): see ``overdue``.

Figures follow each case's place and department as they are now.
"""

import datetime
import math
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from cases.models import SOURCES_NEEDING_VERIFICATION, CaseEvent, Category, Stage
from grids.models import Area, UnitGrid
from org.models import Department, Role

from .models import (
    COMMUNITY,
    DISTRICT,
    GRID,
    LEVEL_FIELDS,
    STREET,
    CaseFact,
    CategoryDay,
    DailyFact,
    GridDay,
    HandlingDay,
)
from .rollup import COUNTERS, EVENT_COUNTERS, NOT_DUE, bucket_top

AREA_LEVELS = {
    Area.Level.DISTRICT: DISTRICT,
    Area.Level.STREET: STREET,
    Area.Level.COMMUNITY: COMMUNITY,
}
# Age of the backlog since filing, in days: [low, high).
AGE_BUCKETS = [(0, 1), (1, 3), (3, 7), (7, 30), (30, None)]
TOP = 10


@dataclass(frozen=True)
class Scope:
    """What a person may count: None means everything."""

    departments: frozenset[int] | None = None
    grids: frozenset[int] | None = None


def scope_for(user) -> Scope | None:
    """Supervisors and administrators see everything; an officer their departments'
    figures; a grid worker those of the grids they cover today; anyone else nothing."""
    if user.has_role(Role.SUPERVISOR, Role.ADMINISTRATOR):
        return Scope()
    if user.has_role(Role.OFFICER):
        return Scope(departments=frozenset(user.department_ids))
    if user.has_role(Role.GRID_WORKER):
        grids = UnitGrid.objects.covered_by(user).values_list("pk", flat=True)
        return Scope(grids=frozenset(grids))
    return None


@dataclass(frozen=True)
class Place:
    """A district, street, community or unit grid; None stands for everywhere."""

    level: int
    id: int
    name: str

    @property
    def field(self) -> str:
        return LEVEL_FIELDS[self.level]


def place_of_area(area: Area) -> Place:
    return Place(AREA_LEVELS[area.level], area.pk, area.name)


def place_of_grid(grid: UnitGrid) -> Place:
    return Place(GRID, grid.pk, grid.code)


@dataclass(frozen=True)
class Period:
    start: datetime.date
    end: datetime.date  # inclusive

    @property
    def begins(self) -> datetime.datetime:
        return local_midnight(self.start)

    @property
    def ends(self) -> datetime.datetime:
        return local_midnight(self.end + datetime.timedelta(days=1))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def shifted(self, months: int) -> "Period":
        return Period(shift_month(self.start, months), shift_month(self.end, months))


def local_midnight(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(
        datetime.datetime.combine(day, datetime.time()), timezone.get_default_timezone()
    )


def shift_month(day: datetime.date, months: int) -> datetime.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return datetime.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)


# ---------------------------------------------------------------------------- rows


def rows(model, place: Place | None, scope: Scope) -> QuerySet:
    """The daily rows that sum to the figures of ``place`` within ``scope``."""
    queryset = model.objects.all()
    if scope.grids is not None:
        queryset = queryset.filter(level=GRID, grid__in=scope.grids)
        if place is not None:
            queryset = queryset.filter(**{place.field: place.id})
    elif place is not None:
        queryset = queryset.filter(level=place.level, **{place.field: place.id})
    else:
        queryset = queryset.filter(level=DISTRICT)
    if scope.departments is not None:
        queryset = queryset.filter(department__in=scope.departments)
    return queryset


def facts(place: Place | None, scope: Scope) -> QuerySet:
    """The per-case facts behind the same figures."""
    queryset = CaseFact.objects.all()
    if place is not None:
        queryset = queryset.filter(**{place.field: place.id})
    if scope.grids is not None:
        queryset = queryset.filter(grid__in=scope.grids)
    if scope.departments is not None:
        queryset = queryset.filter(department__in=scope.departments)
    return queryset


def overdue(queryset: QuerySet, now: datetime.datetime) -> QuerySet:
    """Overdue (超期): filed, still open, past its deadline, its clock not paused by a hold.
    The one definition used by every figure and list; change it here."""
    return queryset.filter(ended_at__isnull=True, filed_at__isnull=False, deadline__lt=now).exclude(
        stage=Stage.ON_HOLD
    )


def backlog(queryset: QuerySet, moment: datetime.datetime, now=None) -> QuerySet:
    """Filed before ``moment`` and not ended before it. At the present moment (the usual
    case: a period that runs to today) nothing has ended after it, so the backlog is the
    open cases alone, which an index of open facts answers without reading the others."""
    filed = queryset.filter(filed_at__lt=moment, filed_at__isnull=False)
    if moment >= (now or timezone.now()):
        return filed.filter(ended_at__isnull=True)
    return filed.filter(Q(ended_at__isnull=True) | Q(ended_at__gte=moment))


def age_filter(bucket: tuple, moment: datetime.datetime) -> Q:
    low, high = bucket
    q = Q(filed_at__lte=moment - datetime.timedelta(days=low))
    if high is not None:
        q &= Q(filed_at__gt=moment - datetime.timedelta(days=high))
    return q


# ---------------------------------------------------------------------------- figures


def totals(place, scope, period: Period) -> dict[str, int]:
    found = (
        rows(DailyFact, place, scope)
        .filter(day__range=(period.start, period.end))
        .aggregate(**{c: Sum(c) for c in COUNTERS})
    )
    return {c: found[c] or 0 for c in COUNTERS}


def ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def percentile(buckets: dict[str, int], share: float) -> float | None:
    """The nearest-rank percentile read from a histogram: the top of the bucket it falls in."""
    total = sum(buckets.values())
    if not total:
        return None
    rank = math.ceil(share * total)
    seen = 0
    for bucket in sorted(buckets, key=int):
        seen += buckets[bucket]
        if seen >= rank:
            return bucket_top(int(bucket))
    return None


def histogram(place, scope, period: Period) -> dict[str, dict[str, int]]:
    """Handling times of the cases closed in the period: across every department from the
    rows per day and place (``HandlingDay``), an officer's from their departments' rows."""
    merged: dict[str, dict[str, int]] = {"wall": defaultdict(int), "work": defaultdict(int)}
    if scope.departments is None:
        found = rows(HandlingDay, place, scope)
    else:
        found = rows(DailyFact, place, scope).filter(closed__gt=0)
    for hist in found.filter(day__range=(period.start, period.end)).values_list("hist", flat=True):
        for kind, buckets in hist.items():
            for bucket, n in buckets.items():
                merged[kind][bucket] += n
    return merged


def rates(t: dict[str, int]) -> dict[str, float | None]:
    return {
        "closure": ratio(t["due_closed"], t["due"]),
        "on_time": ratio(t["due_on_time"], t["due"]),
        "public": ratio(t["public_filed"], t["filed"]),
        "rework": ratio(t["reworks"], t["disposed"]),
        "return": ratio(t["returns"], t["dispatched"]),
    }


def change(now: float | int | None, before: float | int | None) -> float | None:
    if now is None or not before:
        return None
    return (now - before) / before


def dashboard(place: Place | None, scope: Scope, period: Period, now=None) -> dict:
    """Every figure of the dashboard."""
    now = now or timezone.now()
    t = totals(place, scope, period)
    r = rates(t)
    hist = histogram(place, scope, period)
    handling = {
        "avg_wall": ratio(t["wall_seconds"], t["closed"]),
        "avg_work": ratio(t["work_seconds"], t["closed"]),
        "p90_wall": percentile(hist["wall"], 0.9),
        "p90_work": percentile(hist["work"], 0.9),
    }
    compare = []
    for label, months in (("mom", -1), ("yoy", -12)):
        other = period.shifted(months)
        o = totals(place, scope, other)
        orates = rates(o)
        compare.append(
            {
                "key": label,
                "period": other,
                "reported": (o["reported"], change(t["reported"], o["reported"])),
                "filed": (o["filed"], change(t["filed"], o["filed"])),
                "closed": (o["closed"], change(t["closed"], o["closed"])),
                "closure": (orates["closure"], difference(r["closure"], orates["closure"])),
                "on_time": (orates["on_time"], difference(r["on_time"], orates["on_time"])),
            }
        )
    daily = trend(place, scope, period)
    moment = min(now, period.ends)
    behind = backlog(facts(place, scope), moment, now)
    ages = behind.aggregate(
        **{f"age{i}": _count(age_filter(b, moment)) for i, b in enumerate(AGE_BUCKETS)}
    )
    late = list(
        overdue(facts(place, scope), now)
        .values("department")
        .order_by()
        .annotate(n=_count(Q()))
        .order_by("-n", "department")
    )
    names = dict(
        Department.objects.filter(pk__in=[row["department"] for row in late]).values_list(
            "pk", "name"
        )
    )
    return {
        "totals": t,
        "rates": r,
        "handling": handling,
        "compare": compare,
        "daily": daily,
        "weekly": weekly(daily),
        "backlog": {
            "moment": moment,
            "total": sum(ages.values()),
            "ages": [(b, ages[f"age{i}"]) for i, b in enumerate(AGE_BUCKETS)],
        },
        "overdue": [(row["department"], names.get(row["department"]), row["n"]) for row in late],
        "overdue_total": sum(row["n"] for row in late),
        "hot_grids": hot_grids(place, scope, period),
        "hot_categories": hot_categories(place, scope, period),
    }


def _count(q: Q):
    from django.db.models import Count

    return Count("case_id", filter=q) if q else Count("case_id")


def difference(now: float | None, before: float | None) -> float | None:
    """Change of a rate, in percentage points."""
    if now is None or before is None:
        return None
    return now - before


def trend(place, scope, period: Period) -> list[dict]:
    found = {
        row["day"]: row
        for row in rows(DailyFact, place, scope)
        .filter(day__range=(period.start, period.end))
        .values("day")
        .order_by()
        .annotate(reported=Sum("reported"), filed=Sum("filed"), closed=Sum("closed"))
    }
    series = []
    for offset in range(period.days):
        day = period.start + datetime.timedelta(days=offset)
        row = found.get(day, {})
        series.append(
            {
                "day": day,
                "reported": row.get("reported") or 0,
                "filed": row.get("filed") or 0,
                "closed": row.get("closed") or 0,
            }
        )
    return series


def weekly(daily: list[dict]) -> list[dict]:
    """Weeks from Monday; the first and last may be partial: ``days`` says how many of
    their days the period holds."""
    weeks: dict[datetime.date, dict] = {}
    for row in daily:
        monday = row["day"] - datetime.timedelta(days=row["day"].weekday())
        week = weeks.setdefault(
            monday, {"day": monday, "days": 0, "reported": 0, "filed": 0, "closed": 0}
        )
        week["days"] += 1
        for key in ("reported", "filed", "closed"):
            week[key] += row[key]
    return list(weeks.values())


def hot_grids(place, scope, period: Period) -> list[tuple]:
    """The unit grids with the most reports. Across every department they are read from
    the rows per grid and day (``GridDay``); an officer's from the grid rows of their
    departments."""
    if scope.departments is None:
        queryset = GridDay.objects.filter(day__range=(period.start, period.end))
    else:
        queryset = DailyFact.objects.filter(
            level=GRID, day__range=(period.start, period.end), department__in=scope.departments
        ).filter(reported__gt=0)
    if place is not None:
        queryset = queryset.filter(**{place.field: place.id})
    if scope.grids is not None:
        queryset = queryset.filter(grid__in=scope.grids)
    top = list(
        queryset.values("grid").order_by().annotate(n=Sum("reported")).order_by("-n", "grid")[:TOP]
    )
    codes = dict(
        UnitGrid.objects.filter(pk__in=[row["grid"] for row in top]).values_list("pk", "code")
    )
    return [(row["grid"], codes.get(row["grid"], "—"), row["n"]) for row in top]


def hot_categories(place, scope, period: Period) -> list[tuple]:
    top = list(
        rows(CategoryDay, place, scope)
        .filter(day__range=(period.start, period.end))
        .values("category")
        .order_by()
        .annotate(n=Sum("reported"))
        .order_by("-n", "category")[:TOP]
    )
    categories = Category.objects.in_bulk([row["category"] for row in top])
    return [(row["category"], categories.get(row["category"]), row["n"]) for row in top]


# ---------------------------------------------------------------------------- drill-down

# Figures that count events (a case reworked twice counts twice); their lists show each
# case once.
EVENT_FIGURES = {counter: action for action, counter in EVENT_COUNTERS.items()}
FIGURES = (
    "reported", "filed", "public_filed", "due", "due_closed", "due_on_time", "closed",
    "closed_on_time", "disposed", "reworks", "dispatched", "returns", "voided", "backlog",
    "overdue",
)  # fmt: skip


def drill(
    figure: str,
    place: Place | None,
    scope: Scope,
    period: Period,
    *,
    category: int | None = None,
    age: int | None = None,
    department: int | None = None,
    now=None,
) -> QuerySet:
    """The ids of the cases behind ``figure`` (as ``case_id`` values)."""
    now = now or timezone.now()
    base = facts(place, scope)
    span = (period.begins, period.ends)
    filed = Q(filed_at__gte=span[0], filed_at__lt=span[1])
    closed = Q(closed_at__gte=span[0], closed_at__lt=span[1])
    due = filed & ~Q(stage__in=NOT_DUE)
    if figure in EVENT_FIGURES:
        ids = CaseEvent.objects.filter(
            action=EVENT_FIGURES[figure], at__gte=span[0], at__lt=span[1]
        ).values("case_id")
        return base.filter(case_id__in=ids).values("case_id")
    if figure == "backlog":
        moment = min(now, period.ends)
        found = backlog(base, moment, now)
        if age is not None:
            found = found.filter(age_filter(AGE_BUCKETS[age], moment))
        return found.values("case_id")
    if figure == "overdue":
        found = overdue(base, now)
        if department is not None:
            found = found.filter(department=department)
        return found.values("case_id")
    where = {
        "reported": Q(reported_at__gte=span[0], reported_at__lt=span[1]),
        "filed": filed,
        "public_filed": filed & Q(source__in=SOURCES_NEEDING_VERIFICATION),
        "due": due,
        "due_closed": due & Q(closed_at__isnull=False),
        "due_on_time": due & Q(on_time=True),
        "closed": closed,
        "closed_on_time": closed & Q(on_time=True),
    }[figure]
    found = base.filter(where)
    if category is not None:
        found = found.filter(category=category)
    return found.values("case_id")
