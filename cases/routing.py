"""Routing: which department owns a filed case (rules), and which officer in it gets it
(filters, then a chooser). Runs in a Celery task; the case row remembers it still needs
routing, so a lost task is made good by a periodic sweep."""

import copy
import datetime
import logging
import threading
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.gis.geos import Point
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction
from django.db.models import Count, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from governance.db import version_token
from grids.models import Area, Location, locate
from org.models import Department, Role, RoleGrant, User

from .clock import Calendar, calendar_for, parse_periods
from .models import (
    OPEN_STAGES,
    CalendarDay,
    Case,
    CaseEvent,
    Category,
    DepartmentPolicy,
    RoutingRule,
    RoutingVersion,
    Stage,
    Urgency,
    WorkingCalendar,
)

ROUTER_USERNAME = "gridgov-router"
# The name its events show: it routes, and it also fires the deadline ladder.
ROUTER_NAME = "GridGov"

log = logging.getLogger(__name__)


def router() -> User:
    """The account routing acts as, so that its events say who decided: the rules
    (``held_for_routing().router`` keeps it in a worker's memory)."""
    # The account and its roles in one query (the workflow asks for its role next).
    grants = list(RoleGrant.objects.filter(user__username=ROUTER_USERNAME).select_related("user"))
    if grants:
        user = grants[0].user
        user.roles = frozenset(g.role for g in grants) if user.is_active else frozenset()
        return user
    user, created = User.objects.get_or_create(
        username=ROUTER_USERNAME, defaults={"full_name": ROUTER_NAME, "is_active": True}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
        RoleGrant.objects.create(user=user, role=Role.SYSTEM)
    return user


@dataclass
class Held:
    """What routing reads besides the cases, kept in a process's memory for as long as
    the token of ``RoutingVersion`` (written by triggers on every table it comes from)
    stays the one it was read under: a routing task then reads the token instead of the
    rules, the departments, the router account and each department's policy and
    officers (six queries of a routing's two dozen, and most of its Python time)."""

    token: str
    # Every active rule of an active department, in the order routing tries them.
    rules: list[tuple] = field(default_factory=list)
    departments: dict[int, Department] = field(default_factory=dict)
    router: User | None = None
    # (department id, local day) -> its policy (with its calendar and the kinds of that
    # day) and its officers not on leave that day; filled as departments are routed to.
    assignable: dict[tuple[int, datetime.date], tuple] = field(default_factory=dict)


_held: Held | None = None


def held_for_routing() -> Held:
    """The routing rows kept in memory, read again when the token has moved. Read it in
    the routing's transaction: a change committed before it is seen. Rows newer than the
    token are kept under it at worst, and read again as soon as the token moves on."""
    global _held
    token = _routing_token()
    held = _held
    if held is None or held.token != token:
        held = Held(
            token,
            rules=list(active_rules().values_list(*RuleSet.COLUMNS)),
            departments=Department.objects.filter(is_active=True).in_bulk(),
            router=router(),
        )
        # Not kept when this transaction itself changed them (it created the router
        # account, say): it may yet roll back, and the token with it.
        if _routing_token() == token:
            _held = held
    return held


def _routing_token() -> str:
    return version_token(RoutingVersion)


def decision_reason(rule_name: str | None, priority: int = 0, department: str = "") -> str:
    if rule_name is None:
        return _("No routing rule matches: the case waits for a dispatcher.")
    return _("Rule “%(rule)s” (priority %(priority)s): %(department)s.") % {
        "rule": rule_name,
        "priority": priority,
        "department": department,
    }


@dataclass
class Decision:
    rule: RoutingRule | None
    department: Department | None
    # One line per rule tried: (rule, matched, why).
    trace: list[tuple[RoutingRule, bool, str]] = field(default_factory=list)

    @property
    def why(self) -> str:
        if self.rule is None:
            return decision_reason(None)
        return decision_reason(self.rule.name, self.rule.priority, str(self.department))


@dataclass(frozen=True)
class Place:
    """Where a case is, as the rules read it."""

    point: Point
    area_ids: frozenset[int]  # its community, street and district
    grid_code: str | None

    @classmethod
    def of(cls, where: Location) -> "Place":
        areas = (where.community, where.street, where.district)
        return cls(
            where.point,
            frozenset(area.pk for area in areas if area is not None),
            where.grid.code if where.grid else None,
        )


def refusal(
    *,
    category_code: str,
    urgency: str,
    area_id: int | None,
    area_name: str,
    grid_code: str,
    shape,
    case_category: str,
    case_urgency: str,
    place: Place,
) -> str | None:
    """Why a rule with these fields does not apply to a case, or None when it does."""
    if category_code and not case_category.startswith(category_code):
        return _("category is not under %(code)s") % {"code": category_code}
    if urgency and urgency != case_urgency:
        label = dict(Urgency.choices).get(urgency, urgency)
        return _("urgency is not %(urgency)s") % {"urgency": label}
    if area_id and area_id not in place.area_ids:
        return _("not in %(area)s") % {"area": area_name}
    if grid_code and place.grid_code != grid_code:
        return _("not in unit grid %(code)s") % {"code": grid_code}
    if shape is not None and not shape.contains(place.point):
        return _("outside the drawn area")
    return None


def rule_refusal(
    rule: RoutingRule, *, category: Category, where: Location, urgency: str
) -> str | None:
    """Why ``rule`` does not apply, or None when it does."""
    return refusal(
        category_code=rule.category.full_code if rule.category_id else "",
        urgency=rule.urgency,
        area_id=rule.area_id,
        area_name=rule.area.name if rule.area_id else "",
        grid_code=rule.grid_code,
        shape=rule.shape,
        case_category=category.full_code,
        case_urgency=urgency,
        place=Place.of(where),
    )


def active_rules():
    """The rules routing tries, in the order it tries them."""
    return RoutingRule.objects.filter(is_active=True, department__is_active=True).order_by(
        "priority", "id"
    )


def routing_decide(*, category: Category, where: Location, urgency: str) -> Decision:
    """The first active rule, in priority order, that matches; with the reason for each."""
    decision = Decision(None, None)
    for rule in active_rules().select_related("category", "area", "department"):
        refusal = rule_refusal(rule, category=category, where=where, urgency=urgency)
        decision.trace.append((rule, refusal is None, refusal or _("matches")))
        if refusal is None:
            decision.rule, decision.department = rule, rule.department
            break
    return decision


def routing_dry_run(*, point: Point, category: Category, urgency: str) -> tuple[Location, Decision]:
    where = locate(point)
    return where, routing_decide(category=category, where=where, urgency=urgency)


def available_officers(department: Department, when: datetime.datetime):
    """Officers of the department who are active and not on leave on that day."""
    day = timezone.localdate(when)
    return (
        User.objects.filter(
            is_active=True,
            memberships__department=department,
            role_grants__role=Role.OFFICER,
        )
        .exclude(leaves__start__lte=day, leaves__end__gte=day)
        .distinct()
        .order_by("id")
    )


def on_duty(
    calendar: WorkingCalendar | None,
    when: datetime.datetime,
    known: tuple[datetime.date, str | None, str | None] | None = None,
) -> bool:
    """Whether ``when`` is working time on the calendar (the default one if None), as
    ``calendar_for(...).is_working_time(when)`` says, reading only that local day's
    holiday, make-up day or closure instead of every one. ``known``: (day, the calendar's
    own kind of day, the national kind) already read for that day, or None."""
    if calendar is None:
        calendar = default_calendar()
    if calendar is None:
        return calendar_for(None).is_working_time(when)
    zone = ZoneInfo(calendar.time_zone)
    day = when.astimezone(zone).date()
    if known is not None and known[0] == day:
        own, national = known[1], known[2]
    else:
        own, national = day_kinds(calendar, day)
    # The calendar's own day wins over the national one.
    kind = own or (national if calendar.follows_national else None)
    exceptions = {day: kind} if kind else {}
    return Calendar(zone, parse_periods(calendar.periods), exceptions).is_working_time(when)


def default_calendar() -> WorkingCalendar | None:
    """The calendar of a department that has none of its own."""
    return WorkingCalendar.objects.filter(is_default=True).first() or (
        WorkingCalendar.objects.first()
    )


def day_kinds(calendar: WorkingCalendar, day: datetime.date) -> tuple[str | None, str | None]:
    """The calendar's own kind of ``day`` and the national one (None: an ordinary day)."""
    rows = dict(
        CalendarDay.objects.filter(day=day)
        .filter(Q(calendar=calendar) | Q(calendar__isnull=True))
        .values_list("calendar_id", "kind")
    )
    return rows.get(calendar.pk), rows.get(None)


class Assigner:
    """Chooses the officer for each case dispatched in one transaction: filters (member,
    officer, not on leave), then the department's chooser.

    Off duty (outside the department's working time) nobody is assigned: the case waits in
    the department's inbox for the next shift rather than on one person's phone overnight.

    The round-robin pointer (the officer who got the last case) is moved so that two
    routings never pick from the same position. On PostgreSQL the positions a transaction
    needs (``expected``: cases per department) are claimed by one statement on a
    connection of their own that commits at once (``claim_turns``), so the pointer's row
    is locked for that statement, not until the routing commits: routings of one
    department run side by side. A routing that then rolls back has used up its turns (those
    officers wait one round); ``claim=False`` (the dry run) only reads the pointer.
    Otherwise (SQLite, which writes one transaction at a time anyway; the fewest-open-cases
    chooser, whose counts must not change under it; a policy row the side connection
    cannot see or lock) the policy row is locked in the routing's transaction and the
    pointer written by ``save``.
    """

    def __init__(
        self,
        when: datetime.datetime | None = None,
        *,
        expected: dict[int, int] | None = None,
        claim: bool = True,
        held: Held | None = None,
    ):
        self.when = when or timezone.now()
        self.expected = expected or {}
        self.claim = claim
        # The policies and officers kept in memory (a routing task's), or None: read them.
        self.held = held
        # Department id -> its state (None: nobody to assign today).
        self._states: dict[int, _Turns | None] = {}
        self._moved: dict[int, User] = {}

    def _state(self, department: Department) -> "_Turns | None":
        when = self.when
        day = timezone.localdate(when)
        if self.held is not None and self._claims_aside():
            # Kept in memory: the pointer is not read from the row here (claims move it,
            # and a lock reads it again), so a copy of the row read earlier will do.
            key = (department.pk, day)
            kept = self.held.assignable.get(key)
            if kept is None:
                policy, candidates, duty, created = self._assignable(department, day)
                if not created:  # a row this transaction created may yet roll back
                    # Other days' are not needed again: a worker that runs for months
                    # keeps one day's.
                    for other in [k for k in self.held.assignable if k[1] != day]:
                        self.held.assignable.pop(other, None)
                    self.held.assignable[key] = (policy, candidates, duty)
            else:
                policy, candidates, duty = copy.copy(kept[0]), list(kept[1]), kept[2]
        else:
            policy, candidates, duty, _created = self._assignable(department, day)
        if not on_duty(when=when, **duty):
            return None
        if not candidates:
            return None
        state = _Turns(policy, candidates, here=not self._claims_aside())
        if policy.chooser == DepartmentPolicy.Chooser.LEAST_OPEN:
            if self._claims_aside():  # the counts are read under the row's lock
                self._lock(state)
            state.loads = dict(
                Case.objects.filter(assignee__in=candidates, stage__in=OPEN_STAGES)
                .values_list("assignee")
                .annotate(n=Count("id"))
            )
        return state

    def _assignable(
        self, department: Department, day: datetime.date
    ) -> tuple[DepartmentPolicy, list[User], tuple, bool]:
        """The department's policy row, with its calendar and that calendar's kind of
        ``day`` (one query; its first use creates the row), locked unless turns are
        claimed aside; its officers not on leave that day; the calendar it works by (the
        default one when it has none) with the kinds of that day, as ``on_duty`` takes
        them; whether the row was created."""
        days = CalendarDay.objects.filter(day=day).values("kind")
        policies = (
            DepartmentPolicy.objects.select_related("calendar")
            .annotate(
                own_day=Subquery(days.filter(calendar=OuterRef("calendar"))[:1]),
                national_day=Subquery(days.filter(calendar__isnull=True)[:1]),
            )
            .filter(department=department)
        )
        if not self._claims_aside():
            policies = policies.select_for_update(of=("self",))
        policy = policies.first()
        created = policy is None
        if created:
            DepartmentPolicy.objects.get_or_create(department=department)
            policy = policies.get()
        calendar, known = policy.calendar, (day, policy.own_day, policy.national_day)
        if calendar is None:
            calendar = default_calendar()
            known = (day, *day_kinds(calendar, day)) if calendar is not None else None
        duty = {"calendar": calendar, "known": known}
        return policy, list(available_officers(department, self.when)), duty, created

    def _claims_aside(self) -> bool:
        return self.claim and connection.vendor == "postgresql"

    @staticmethod
    def _lock(state: "_Turns") -> None:
        """Lock the policy row in this transaction and read its pointer again."""
        state.policy = DepartmentPolicy.objects.select_for_update().get(pk=state.policy.pk)
        state.here = True

    def choose(self, department: Department) -> User | None:
        if department.pk not in self._states:
            self._states[department.pk] = self._state(department)
        state = self._states[department.pk]
        if state is None:
            return None
        policy, candidates = state.policy, state.candidates
        if policy.chooser == DepartmentPolicy.Chooser.LEAST_OPEN:
            loads = state.loads
            chosen = min(candidates, key=lambda user: (loads.get(user.pk, 0), user.pk))
            loads[chosen.pk] = loads.get(chosen.pk, 0) + 1
        else:
            if not state.here and not state.turns:
                # As many turns as this transaction expects to dispatch, then one by one.
                count = self.expected.pop(department.pk, 1)
                claimed = claim_turns(policy.pk, [user.pk for user in candidates], count)
                if claimed is None:  # the side connection could not: lock the row here
                    self._lock(state)
                else:
                    by_id = {user.pk: user for user in candidates}
                    state.turns = [by_id[pk] for pk in claimed]
            if not state.here:
                return state.turns.pop(0)
            policy = state.policy
            after = [
                user
                for user in candidates
                if policy.last_assigned_id and user.pk > policy.last_assigned_id
            ]
            chosen = (after or candidates)[0]
        policy.last_assigned_id = chosen.pk
        self._moved[policy.pk] = chosen
        return chosen

    def save(self) -> None:
        """Write the pointers moved in this transaction (call before it commits)."""
        for pk, user in self._moved.items():
            DepartmentPolicy.objects.filter(pk=pk).update(last_assigned=user)
        self._moved.clear()


@dataclass
class _Turns:
    """One department's state in an ``Assigner``."""

    policy: DepartmentPolicy
    candidates: list[User]
    loads: dict[int, int] = field(default_factory=dict)  # open cases per officer
    turns: list[User] = field(default_factory=list)  # claimed aside, not yet given
    here: bool = False  # the row is locked in this transaction


# The round-robin pointer moved in one statement that commits at once: the officers in
# ``candidates`` (ids in ascending order) after the pointer, ``count`` of them, round and
# round; the pointer ends on the last. The officer's position is counted from the old
# pointer (an officer who has left still counts from where they were).
CLAIM_TURNS = """
UPDATE cases_departmentpolicy AS policy
SET last_assigned_id = (%(ids)s::bigint[])[
  (((SELECT count(*) FROM unnest(%(ids)s::bigint[]) AS officer(pk)
     WHERE officer.pk <= coalesce(policy.last_assigned_id, 0))
    + %(count)s - 1) %% cardinality(%(ids)s::bigint[]) + 1)::integer]
WHERE policy.id = %(policy)s
RETURNING policy.last_assigned_id
"""

_aside = threading.local()
_aside_all: list = []  # every thread's, to close them all


def claim_turns(policy_id: int, ids: list[int], count: int) -> list[int] | None:
    """The next ``count`` officers of the round (``ids`` ascending) for a department's
    policy, the pointer moved past them and committed at once on a PostgreSQL connection
    of this thread's own. None when that cannot be done: the row is not there for that
    connection (created in a transaction not yet committed), or it stays locked for a
    second (by the caller's own transaction, say), or the connection fails."""
    wrapper = getattr(_aside, "wrapper", None)
    if wrapper is None or wrapper.settings_dict["NAME"] != connection.settings_dict["NAME"]:
        settings_dict = dict(connection.settings_dict)
        options = dict(settings_dict.get("OPTIONS") or {})
        options["options"] = f"{options.get('options', '')} -c lock_timeout=1000".strip()
        settings_dict["OPTIONS"] = options
        wrapper = _aside.wrapper = type(connections[DEFAULT_DB_ALIAS])(settings_dict)
        wrapper.inc_thread_sharing()  # closed from the thread that closes them all
        _aside_all.append(wrapper)
    try:
        with wrapper.cursor() as cursor:
            cursor.execute(CLAIM_TURNS, {"ids": ids, "count": count, "policy": policy_id})
            row = cursor.fetchone()
    except DatabaseError:
        log.warning("Could not claim round-robin turns aside; locking the row.", exc_info=True)
        wrapper.close()
        return None
    if row is None:
        return None
    last = ids.index(row[0])
    return [ids[(last - count + 1 + i) % len(ids)] for i in range(count)]


def close_claims_connections() -> None:
    """Close the connections of ``claim_turns`` (each opens again when next needed)."""
    for wrapper in list(_aside_all):
        try:
            wrapper.close()
        except DatabaseError:
            pass


def choose_assignee(
    department: Department, when: datetime.datetime | None = None, *, claim: bool = True
) -> User | None:
    """The officer ``Assigner`` picks for one case (call inside a transaction); with
    ``claim=False`` the one it would pick, the pointer left where it is."""
    assigner = Assigner(when, claim=claim)
    chosen = assigner.choose(department)
    assigner.save()
    return chosen


def case_route(case_id: int) -> CaseEvent | None:
    """Route one filed case (see ``cases_route``); its routing event, or None when it did
    not need routing."""
    return cases_route(case_id).get(case_id)


def cases_route(case_id: int | None, *, also: int = 0) -> dict[int, CaseEvent]:
    """Route a filed case once (if any), and with it up to ``also`` other cases waiting
    for routing (oldest first), in one transaction: each is dispatched by the first matching rule
    (and assigned an officer), or recorded as matching no rule. A case already routed, or
    being routed by another worker (its row locked), is left alone, so a redelivered or
    re-enqueued task does nothing. Returns the routing events by case id.

    Routing many cases together costs about what routing one does: the rules, the
    departments' policies and officers, and the cases' clocks are read once for all
    of them (``workflow.perform_many``). The decision is the one ``routing_decide``
    explains, read from plain rows rather than model instances: the table has a rule per
    class and street (hundreds in a district).
    """
    from .workflow import TransitionError, perform, perform_many

    with transaction.atomic():
        waiting = (
            # Lock the case rows only: the joined grid may be NULL, and PostgreSQL cannot
            # lock the nullable side of an outer join. Rows another routing holds are
            # skipped: it routes them. Whole rows: the workflow takes them as they are.
            Case.objects.select_for_update(of=("self",), skip_locked=True)
            .filter(needs_routing=True)
            .select_related("category", "grid", "condition")
        )
        cases = list(waiting.filter(pk=case_id)) if case_id is not None else []
        if also > 0:
            cases += list(waiting.exclude(pk=case_id).order_by("filed_at", "pk")[:also])
        if not cases:
            return {}
        stray = [case.pk for case in cases if case.stage != Stage.FILED]
        if stray:
            Case.objects.filter(pk__in=stray).update(needs_routing=False)
        cases = [case for case in cases if case.stage == Stage.FILED]
        if not cases:
            return {}
        held = held_for_routing()
        rules = RuleSet({case.category.full_code for case in cases}, held.rules)
        orders = [rules.order_for(case) for case in cases]
        user = held.router
        try:
            # Its own savepoint: all of them or none.
            events = perform_many(
                orders, user, held={case.pk: case for case in cases}, routing=held
            )
        except TransitionError:
            # One of them cannot be routed as decided (it changed meanwhile): route them
            # one by one, so that the others go ahead.
            events = []
            for order in orders:
                try:
                    events.append(
                        perform(
                            order.case_id, order.action, user, reason=order.reason, data=order.data
                        )
                    )
                except TransitionError:
                    continue
        return {event.case_id: event for event in events}


class RuleSet:
    """The active rules for some categories, read once, in the order routing tries them."""

    COLUMNS = (
        "pk", "name", "priority", "category__full_code", "urgency", "area", "area__name",
        "grid_code", "shape", "department", "department__name",
    )  # fmt: skip

    def __init__(self, codes: set[str], every: list[tuple] | None = None):
        # Only rules a case's category falls under can match: the others (most of a
        # district's rule set, one per class and street) are neither read nor written
        # into the trace, which lists the rules for this category that were tried.
        # ``every``: all the active rules, already read (``Held.rules``).
        prefixes = {code[:length] for code in codes for length in range(1, len(code) + 1)}
        if every is not None:
            self.rules = [rule for rule in every if rule[3] is None or rule[3] in prefixes]
        else:
            self.rules = list(
                active_rules()
                .filter(Q(category__isnull=True) | Q(category__full_code__in=prefixes))
                .values_list(*self.COLUMNS)
            )

    def order_for(self, case: Case):
        """The routing action for a filed case, with its reason and trace."""
        from .workflow import Order

        place = Place(
            case.point,
            frozenset(pk for pk in (case.community_id, case.street_id, case.district_id) if pk),
            case.grid.code if case.grid_id else None,
        )
        category = case.category.full_code
        trace, chosen = [], None
        for (
            pk,
            name,
            priority,
            code,
            urgency,
            area,
            area_name,
            grid,
            shape,
            *department,
        ) in self.rules:
            if code and not category.startswith(code):
                continue
            why = refusal(
                category_code=code or "",
                urgency=urgency,
                area_id=area,
                area_name=area_name or "",
                grid_code=grid,
                shape=shape,
                case_category=category,
                case_urgency=case.urgency,
                place=place,
            )
            trace.append(
                {"rule": pk, "name": name, "matched": why is None, "why": str(why or _("matches"))}
            )
            if why is None:
                chosen = (pk, name, priority, *department)
                break
        if chosen is None:
            return Order(case.pk, "route_none", decision_reason(None), {"trace": trace})
        pk, name, priority, department_id, department_name = chosen
        return Order(
            case.pk,
            "dispatch",
            decision_reason(name, priority, department_name),
            # The rule's name and priority: the reason is shown in the reader's language.
            {
                "department": department_id,
                "rule": pk,
                "rule_name": name,
                "priority": priority,
                "trace": trace,
            },
        )


def unrouted_cases(older_than: datetime.timedelta | None = None):
    """Filed cases whose routing has not happened (the task was lost or is late)."""
    older_than = (
        older_than
        if older_than is not None
        else datetime.timedelta(seconds=settings.ROUTING_GRACE_SECONDS)
    )
    return Case.objects.filter(needs_routing=True, filed_at__lt=timezone.now() - older_than)


def routing_gaps() -> list[dict]:
    """Category × street pairs that no rule owns, or that two departments own at the same
    priority: the administrators' check of the rule set."""
    rules = list(
        RoutingRule.objects.filter(is_active=True).select_related("category", "area", "department")
    )
    streets = list(Area.objects.filter(level=Area.Level.STREET).select_related("parent"))
    gaps = []
    for category in Category.objects.filter(
        is_active=True, children__isnull=True, parent__isnull=False
    ):
        for street in streets:
            owners = [
                rule
                for rule in rules
                if (not rule.category_id or category.full_code.startswith(rule.category.full_code))
                and not rule.urgency
                and not rule.grid_code
                and rule.shape is None
                and (not rule.area_id or rule.area_id in (street.pk, street.parent_id))
            ]
            if not owners:
                gaps.append(
                    {"category": category, "street": street, "problem": "none", "rules": []}
                )
                continue
            top = [rule for rule in owners if rule.priority == owners[0].priority]
            if len({rule.department_id for rule in top}) > 1:
                gaps.append(
                    {"category": category, "street": street, "problem": "several", "rules": top}
                )
    return gaps
