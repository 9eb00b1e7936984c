"""Routing: which department owns a filed case (rules), and which officer in it gets it
(filters, then a chooser). Runs in a Celery task; the case row remembers it still needs
routing, so a lost task is made good by a periodic sweep."""

import datetime
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.gis.geos import Point
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from grids.models import Area, Location, locate
from org.models import Department, Role, RoleGrant, User

from .clock import calendar_for
from .models import OPEN_STAGES, Case, CaseEvent, Category, DepartmentPolicy, RoutingRule, Stage

ROUTER_USERNAME = "gridgov-router"


def router() -> User:
    """The account routing acts as, so that its events say who decided: the rules."""
    user, created = User.objects.get_or_create(
        username=ROUTER_USERNAME, defaults={"full_name": "自动派遣", "is_active": True}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
        RoleGrant.objects.create(user=user, role=Role.SYSTEM)
    return user


@dataclass
class Decision:
    rule: RoutingRule | None
    department: Department | None
    # One line per rule tried: (rule, matched, why).
    trace: list[tuple[RoutingRule, bool, str]] = field(default_factory=list)

    @property
    def why(self) -> str:
        if self.rule is None:
            return _("No routing rule matches: the case waits for a dispatcher.")
        return _("Rule “%(rule)s” (priority %(priority)s): %(department)s.") % {
            "rule": self.rule.name,
            "priority": self.rule.priority,
            "department": self.department,
        }


def rule_refusal(
    rule: RoutingRule, *, category: Category, where: Location, urgency: str
) -> str | None:
    """Why ``rule`` does not apply, or None when it does."""
    if rule.category_id and not category.full_code.startswith(rule.category.full_code):
        return _("category is not under %(code)s") % {"code": rule.category.full_code}
    if rule.urgency and rule.urgency != urgency:
        return _("urgency is not %(urgency)s") % {"urgency": rule.get_urgency_display()}
    if rule.area_id:
        inside = {
            where.community and where.community.pk,
            where.street and where.street.pk,
            where.district and where.district.pk,
        }
        if rule.area_id not in inside:
            return _("not in %(area)s") % {"area": rule.area.name}
    if rule.grid_code and (where.grid is None or where.grid.code != rule.grid_code):
        return _("not in unit grid %(code)s") % {"code": rule.grid_code}
    if rule.shape is not None and not rule.shape.contains(where.point):
        return _("outside the drawn area")
    return None


def routing_decide(*, category: Category, where: Location, urgency: str) -> Decision:
    """The first active rule, in priority order, that matches; with the reason for each."""
    decision = Decision(None, None)
    rules = RoutingRule.objects.filter(is_active=True, department__is_active=True).select_related(
        "category", "area", "department"
    )
    for rule in rules.order_by("priority", "id"):
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


def choose_assignee(department: Department, when: datetime.datetime | None = None) -> User | None:
    """Filters (member, officer, not on leave), then the department's chooser.

    Off duty (outside the department's working time) nobody is assigned: the case waits in
    the department's inbox for the next shift rather than on one person's phone overnight.
    The round-robin pointer is a row, locked while it moves, so two routings never pick
    from the same position.
    """
    when = when or timezone.now()
    if not calendar_for(department).is_working_time(when):
        return None
    candidates = list(available_officers(department, when))
    if not candidates:
        return None
    policy, _ = DepartmentPolicy.objects.get_or_create(department=department)
    policy = DepartmentPolicy.objects.select_for_update().get(pk=policy.pk)
    if policy.chooser == DepartmentPolicy.Chooser.LEAST_OPEN:
        loads = dict(
            Case.objects.filter(assignee__in=candidates, stage__in=OPEN_STAGES)
            .values_list("assignee")
            .annotate(n=Count("id"))
        )
        chosen = min(candidates, key=lambda user: (loads.get(user.pk, 0), user.pk))
    else:
        after = [
            user
            for user in candidates
            if policy.last_assigned_id and user.pk > policy.last_assigned_id
        ]
        chosen = (after or candidates)[0]
    policy.last_assigned = chosen
    policy.save(update_fields=["last_assigned"])
    return chosen


def case_route(case_id: int) -> CaseEvent | None:
    """Route a filed case once: dispatch it by the first matching rule (and assign an
    officer), or record that no rule matched. A case already routed is left alone, so a
    redelivered or re-enqueued task does nothing."""
    from .workflow import perform

    with transaction.atomic():
        case = (
            # Lock the case row only: the joined areas may be NULL, and PostgreSQL cannot
            # lock the nullable side of an outer join.
            Case.objects.select_for_update(of=("self",))
            .filter(pk=case_id, needs_routing=True)
            .select_related("category", "grid", "community", "street", "district")
            .first()
        )
        if case is None:
            return None
        if case.stage != Stage.FILED:
            Case.objects.filter(pk=case.pk).update(needs_routing=False)
            return None
        where = Location(case.point, case.grid, case.community, case.street, case.district)
        decision = routing_decide(category=case.category, where=where, urgency=case.urgency)
        trace = [
            {"rule": rule.pk, "name": rule.name, "matched": ok, "why": str(why)}
            for rule, ok, why in decision.trace
        ]
        if decision.rule is None:
            return perform(case, "route_none", router(), reason=decision.why, data={"trace": trace})
        return perform(
            case,
            "dispatch",
            router(),
            reason=decision.why,
            data={
                "department": decision.department.pk,
                "rule": decision.rule.pk,
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
