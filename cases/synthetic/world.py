"""What the generator reads once: the demo district's grids, categories, departments and
people, and the working calendar as fast arithmetic."""

import bisect
import datetime
import json
import math
import random
from calendar import monthrange
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.contrib.gis.geos import Point, Polygon
from django.utils import timezone
from django.utils.translation import gettext, override

from grids.models import GridAssignment, UnitGrid
from org.models import Department, Role, User

from .. import seed
from ..clock import Calendar, calendar_for, limit_to_deadline
from ..models import (
    Category,
    DepartmentPolicy,
    FilingCondition,
    RoutingRule,
)
from .mix import (
    FIRST_CONDITION_SHARE,
    HOTSPOT_SHARE,
    HOTSPOTS_PER_GRID,
    MAJOR_SHARE,
    MINOR_WEIGHT,
    NORMAL,
    NORMAL_SIZE,
    SPOT_WORDS,
    SPOTS_PER_GRID,
    LimitUnit,
)

DEMO_DISTRICT = "110101"  # Dongcheng; other districts' grids (a benchmark's) are never used

# ---------------------------------------------------------------------------- time


class WorkingTime:
    """A ``clock.Calendar``'s working spans over a range of days, in epoch seconds.

    ``add`` is two bisections where ``Calendar.add`` walks the days (tens of µs a call, and
    a million cases need it once or twice each); it gives the same moment, which
    ``check_against`` verifies on a sample before any case is written.
    """

    def __init__(self, calendar: Calendar, first: datetime.date, last: datetime.date):
        self.calendar = calendar
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.before: list[int] = []  # working seconds before each span
        self.through: list[int] = []  # working seconds up to each span's end
        total = 0
        day = first
        while day <= last:
            for begin, end in calendar.working_periods(day):
                start = int(datetime.datetime.combine(day, begin, calendar.zone).timestamp())
                stop = int(datetime.datetime.combine(day, end, calendar.zone).timestamp())
                self.starts.append(start)
                self.ends.append(stop)
                self.before.append(total)
                total += stop - start
                self.through.append(total)
            day += datetime.timedelta(days=1)
        self.day_seconds = int(calendar.day_length.total_seconds())

    def add(self, moment: int, seconds: int) -> int:
        """``seconds`` (> 0) of working time after ``moment``, as ``Calendar.add`` does it."""
        i = bisect.bisect_right(self.ends, moment)  # the first span not over at ``moment``
        if i < len(self.ends):
            target = self.before[i] + max(0, moment - self.starts[i]) + seconds
            j = bisect.bisect_left(self.through, target)  # the span where it is reached
            if j < len(self.ends):
                return self.starts[j] + (target - self.before[j])
        # Beyond the prepared range (a very long extension): ask the calendar itself.
        return int(self.calendar.add(utc(moment), datetime.timedelta(seconds=seconds)).timestamp())

    def is_working(self, moment: int) -> bool:
        i = bisect.bisect_right(self.ends, moment)
        return i < len(self.ends) and self.starts[i] <= moment

    def next_working(self, moment: int) -> int:
        """``moment`` if it is working time, else the start of the next working period."""
        i = bisect.bisect_right(self.ends, moment)
        if i >= len(self.ends):
            return moment
        return max(moment, self.starts[i])

    def deadline(self, start: int, value: Decimal | float, unit: str) -> int:
        """What ``clock.limit_to_deadline`` gives for a start in whole seconds."""
        value = float(value)
        if unit == LimitUnit.URGENT_HOURS:
            return start + round(value * 3600)
        if unit == LimitUnit.CALENDAR_DAYS:
            return start + round(value * 86400)
        if unit == LimitUnit.WORKING_HOURS:
            return self.add(start, round(value * 3600))
        return self.add(start, round(self.day_seconds * value))

    def check_against(self, rng: random.Random, conditions, start: int, end: int) -> None:
        for _ in range(300):
            condition = conditions[rng.randrange(len(conditions))]
            moment = rng.randrange(start, end)
            ours = self.deadline(moment, condition.limit_value, condition.limit_unit)
            theirs = limit_to_deadline(
                utc(moment), condition.limit_value, condition.limit_unit, self.calendar
            )
            if utc(ours) != theirs:
                raise AssertionError(
                    f"working-time shortcut disagrees with clock.limit_to_deadline: "
                    f"{utc(moment)} + {condition.limit_value} {condition.limit_unit}: "
                    f"{utc(ours)} != {theirs}"
                )


def utc(moment: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(moment, datetime.UTC)


_ISO_DAYS: dict[int, str] = {}


def iso(moment: int) -> str:
    """``utc(moment).isoformat()``, as the workflow writes deadlines into payloads, without
    building a datetime (a few times faster)."""
    day, second = divmod(moment, 86400)
    prefix = _ISO_DAYS.get(day)
    if prefix is None:
        prefix = _ISO_DAYS[day] = utc(day * 86400).strftime("%Y-%m-%dT")
    hour, second = divmod(second, 3600)
    return f"{prefix}{hour:02d}:{second // 60:02d}:{second % 60:02d}+00:00"


def months_back(day: datetime.date, months: int) -> datetime.date:
    """The same day of the month ``months`` months earlier (or that month's last day)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    last = monthrange(year, month + 1)[1]
    return datetime.date(year, month + 1, min(day.day, last))


def cumulative(weights) -> list[float]:
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out


# ---------------------------------------------------------------------------- the world


class GridInfo:
    """A current demo grid and everything a case in it needs, read once."""

    __slots__ = (
        "id", "code", "community_id", "street_id", "district_id", "community_name",
        "street_name", "street_office_id", "worker_id", "deputy_id", "box", "inside",
        "spots", "cx", "cy",
    )  # fmt: skip

    def point_in(self, random: Callable[[], float]) -> tuple[float, float]:
        xmin, ymin, xmax, ymax = self.box
        while True:
            x, y = xmin + random() * (xmax - xmin), ymin + random() * (ymax - ymin)
            if self.inside is None or self.inside(x, y):
                return x, y

    def point_near(self, random: Callable[[], float], x0: float, y0: float, sigma_deg: float):
        """A point around (x0, y0), kept inside the grid."""
        xmin, ymin, xmax, ymax = self.box
        for _ in range(8):
            x = x0 + sigma_deg * NORMAL[int(random() * NORMAL_SIZE)]
            y = y0 + sigma_deg * 0.77 * NORMAL[int(random() * NORMAL_SIZE)]
            if xmin < x < xmax and ymin < y < ymax and (self.inside is None or self.inside(x, y)):
                return x, y
        return self.point_in(random)


@dataclass
class ConditionInfo:
    id: int
    limit_value: Decimal
    limit_unit: str
    text: str
    value: float = 0.0  # limit_value as a float, converted once

    def __post_init__(self):
        self.value = float(self.limit_value)


@dataclass
class CategoryInfo:
    id: int
    full_code: str
    department_kind: str
    conditions: list[ConditionInfo]
    condition_weights: list[float]
    emergency: bool


@dataclass
class RuleInfo:
    """An active routing rule, as ``cases.routing.rule_refusal`` reads it."""

    id: int
    category_code: str  # "" for any category
    urgency: str
    area_id: int | None
    grid_code: str
    shape: object  # a prepared geometry, or None
    department_id: int
    reason: str  # what the router writes when it dispatches by this rule
    trace: str  # this rule's entry in the router's trace, as JSON

    def matches(self, full_code: str, grid: "GridInfo", urgency: str, x: float, y: float):
        return (
            full_code.startswith(self.category_code)
            and (not self.urgency or self.urgency == urgency)
            and (
                self.area_id is None
                or self.area_id in (grid.community_id, grid.street_id, grid.district_id)
            )
            and (not self.grid_code or self.grid_code == grid.code)
            and (self.shape is None or self.shape.contains(Point(x, y)))
        )


@dataclass
class World:
    grids: list[GridInfo]
    grid_weights: list[float]  # cumulative
    categories: list[CategoryInfo]
    category_weights: list[float]  # cumulative
    departments: dict[str, int]  # kind ("sanitation", ...) -> id; street offices by id
    officers: dict[int, list[int]]
    dispatchers: list[int]
    leaders: list[int]
    supervisors: list[int]
    router_id: int
    rules: list[RuleInfo]
    time: WorkingTime
    department_time: dict[int, WorkingTime]
    notes: list[str] = field(default_factory=list)


class NoDemoDistrict(Exception):
    pass


def ensure_demo(load: bool) -> bool:
    """True if the demo district had to be loaded (it has no current unit grid)."""
    if UnitGrid.objects.current().filter(code__startswith=DEMO_DISTRICT).exists():
        return False
    if not load:
        raise NoDemoDistrict(
            "The demo district (Dongcheng, 110101) has no unit grids: run `manage.py load_demo`."
        )
    from grids import demo as grids_demo
    from org import demo as org_demo

    from .. import demo as cases_demo

    # What `manage.py load_demo` loads.
    org_demo.load()
    grids_demo.load()
    cases_demo.load()
    return True


def members_with_role(role: str, department_codes: list[str] | None = None) -> list[int]:
    users = User.objects.filter(is_active=True, role_grants__role=role)
    if department_codes:
        users = users.filter(memberships__department__code__in=department_codes)
    return sorted(set(users.values_list("id", flat=True)))


def load_rules() -> list[RuleInfo]:
    """The routing table in the order the router tries it (cases.routing.routing_decide)."""
    from ..routing import Decision

    rules = []
    with override(settings.LANGUAGE_CODE):  # the router's task runs in the site's language
        for rule in (
            RoutingRule.objects.filter(is_active=True, department__is_active=True)
            .select_related("category", "department")
            .order_by("priority", "id")
        ):
            entry = {"rule": rule.pk, "name": rule.name, "matched": True, "why": gettext("matches")}
            rules.append(
                RuleInfo(
                    id=rule.pk,
                    category_code=rule.category.full_code if rule.category_id else "",
                    urgency=rule.urgency,
                    area_id=rule.area_id,
                    grid_code=rule.grid_code,
                    shape=rule.shape.prepared if rule.shape is not None else None,
                    department_id=rule.department_id,
                    reason=str(Decision(rule, rule.department).why),
                    trace=json.dumps([entry], ensure_ascii=False),
                )
            )
    return rules


def load_world(rng: random.Random, first_day: datetime.date, last_day: datetime.date) -> World:
    from ..routing import router

    notes = []
    today = timezone.localdate()
    grids_qs = (
        UnitGrid.objects.current()
        .filter(code__startswith=DEMO_DISTRICT)
        .select_related("community__parent__parent")
        .order_by("code")
    )
    offices = dict(Department.objects.filter(code__startswith="street-").values_list("code", "id"))
    assignments = {}
    for grid_id, worker_id, duty in (
        GridAssignment.objects.active_on(today)
        .filter(grid__code__startswith=DEMO_DISTRICT, worker__is_active=True)
        .values_list("grid_id", "worker_id", "duty")
    ):
        assignments[(grid_id, duty)] = worker_id
    grids, areas_m2 = [], []
    for grid in grids_qs:
        community = grid.community
        street = community.parent
        info = GridInfo()
        info.id, info.code = grid.pk, grid.code
        info.community_id, info.community_name = community.pk, community.name
        info.street_id = street.pk if street else None
        info.street_name = street.name if street else ""
        info.district_id = street.parent_id if street else None
        info.street_office_id = offices.get(f"street-{street.code}") if street else None
        info.worker_id = assignments.get((grid.pk, "responsible"))
        info.deputy_id = assignments.get((grid.pk, "deputy"), info.worker_id)
        # A hair inside the boundary: a point on an edge shared with a neighbour would go
        # to whichever of the two has the lower code.
        inner = grid.boundary.buffer(-1e-7)
        xmin, ymin, xmax, ymax = inner.extent
        # Sample in a box a little inside the extent; when the grid covers that box (most
        # grids are near-rectangles) no point needs testing.
        dx, dy = (xmax - xmin) * 0.01, (ymax - ymin) * 0.01
        box = (xmin + dx, ymin + dy, xmax - dx, ymax - dy)
        inner_prepared = inner.prepared
        info.box = box
        if inner_prepared.contains(Polygon.from_bbox(box)):
            info.inside = None
        else:
            info.inside = lambda x, y, p=inner_prepared: p.contains(Point(x, y))
        centre = grid.boundary.centroid
        info.cx, info.cy = centre.x, centre.y
        info.spots = []
        for _ in range(SPOTS_PER_GRID):
            x, y = info.point_in(rng.random)
            info.spots.append((x, y, SPOT_WORDS[rng.randrange(len(SPOT_WORDS))]))
        grids.append(info)
        areas_m2.append(grid.area_m2)
    if not grids:
        raise NoDemoDistrict("The demo district has no current unit grids.")
    missing_workers = sum(1 for g in grids if g.worker_id is None)
    if missing_workers:
        notes.append(f"{missing_workers} grids have no responsible worker today")

    # Hotspots: Gaussian bumps centred in random grids, over a uniform background by area.
    lat = sum(g.cy for g in grids) / len(grids)
    kx = 111_320 * math.cos(math.radians(lat))
    hotspots = []
    for _ in range(max(3, round(len(grids) * HOTSPOTS_PER_GRID))):
        centre = grids[rng.randrange(len(grids))]
        hotspots.append((centre.cx, centre.cy, rng.uniform(120, 450), rng.lognormvariate(0, 0.8)))
    heat = []
    for grid, area in zip(grids, areas_m2, strict=True):
        bump = 0.0
        for hx, hy, sigma, amplitude in hotspots:
            d2 = ((grid.cx - hx) * kx) ** 2 + ((grid.cy - hy) * 111_320) ** 2
            if d2 < 16 * sigma * sigma:
                bump += amplitude * math.exp(-d2 / (2 * sigma * sigma))
        heat.append(bump * area)
    total_area, total_heat = sum(areas_m2), sum(heat) or 1.0
    weights = [
        (1 - HOTSPOT_SHARE) * area / total_area + HOTSPOT_SHARE * h / total_heat
        for area, h in zip(areas_m2, heat, strict=True)
    ]

    # Categories: leaf classes with an active filing condition, weighted by MAJOR_SHARE.
    owners = seed.department_kinds()
    conditions_by_category: dict[int, list[ConditionInfo]] = {}
    for condition in FilingCondition.objects.filter(is_active=True).order_by("id"):
        conditions_by_category.setdefault(condition.category_id, []).append(
            ConditionInfo(
                condition.pk, condition.limit_value, condition.limit_unit, condition.condition
            )
        )
    leaves = Category.objects.filter(is_active=True, parent__isnull=False, children__isnull=True)
    by_major: dict[str, list[Category]] = {}
    for category in leaves.order_by("full_code"):
        if category.pk in conditions_by_category:
            by_major.setdefault(category.full_code[:3], []).append(category)
    categories, category_weights = [], []
    for major, share in MAJOR_SHARE.items():
        members = by_major.get(major, [])
        if not members:
            notes.append(f"no active class with a filing condition under {major}")
            continue
        minor_total = sum(MINOR_WEIGHT.get(c.full_code, 1) for c in members)
        for category in members:
            conditions = conditions_by_category[category.pk]
            rest = (1 - FIRST_CONDITION_SHARE) / max(1, len(conditions) - 1)
            categories.append(
                CategoryInfo(
                    id=category.pk,
                    full_code=category.full_code,
                    department_kind=owners.get(category.full_code[:5], "street"),
                    conditions=conditions,
                    condition_weights=cumulative(
                        [1.0]
                        if len(conditions) == 1
                        else [FIRST_CONDITION_SHARE] + [rest] * (len(conditions) - 1)
                    ),
                    emergency=major == "E04",
                )
            )
            category_weights.append(share * MINOR_WEIGHT.get(category.full_code, 1) / minor_total)

    functional = {
        code.removeprefix("dc-"): pk
        for code, pk in Department.objects.filter(
            code__startswith="dc-", kind=Department.Kind.FUNCTIONAL
        ).values_list("code", "id")
    }
    wanted = {c.department_kind for c in categories} - {"street"}
    if wanted - set(functional):
        raise NoDemoDistrict(
            f"Demo departments {sorted('dc-' + k for k in wanted - set(functional))} are "
            "missing: run `manage.py load_demo`."
        )
    dispatchers = members_with_role(Role.DISPATCHER)
    leaders = members_with_role(Role.SHIFT_LEADER)
    if not dispatchers or not leaders:
        raise NoDemoDistrict("No dispatcher or shift leader: run `manage.py load_demo`.")
    officers: dict[int, list[int]] = {}
    for user_id, department_id in (
        User.objects.filter(is_active=True, role_grants__role=Role.OFFICER)
        .values_list("id", "memberships__department_id")
        .order_by("id")
    ):
        if department_id is not None:
            officers.setdefault(department_id, []).append(user_id)

    calendars = {
        policy.department_id: policy.calendar_id
        for policy in DepartmentPolicy.objects.filter(calendar__isnull=False)
    }
    default_time = WorkingTime(calendar_for(None), first_day, last_day)
    department_time: dict[int, WorkingTime] = {}
    by_calendar: dict[int, WorkingTime] = {}
    for department_id, calendar_id in calendars.items():
        if calendar_id not in by_calendar:
            department = Department.objects.get(pk=department_id)
            by_calendar[calendar_id] = WorkingTime(calendar_for(department), first_day, last_day)
        department_time[department_id] = by_calendar[calendar_id]

    return World(
        grids=grids,
        grid_weights=cumulative(weights),
        categories=categories,
        category_weights=cumulative(category_weights),
        departments=functional,
        officers=officers,
        dispatchers=dispatchers,
        leaders=leaders,
        supervisors=members_with_role(Role.SUPERVISOR) or leaders,
        router_id=router().pk,
        rules=load_rules(),
        time=default_time,
        department_time=department_time,
        notes=notes,
    )
