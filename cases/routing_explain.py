""" "Why this department": read back from the case's own history which routing rule
decided, or that a dispatcher chose by hand, or that no rule matched. The events are the
record (CaseEvent payloads written by routing.case_route and workflow.dispatch_case);
the rule row only adds what it covers, and may have been edited or deleted since."""

from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.translation import gettext as _

from org.models import Role

from .models import Case, CaseEvent, RoutingRule


@dataclass
class DepartmentExplanation:
    # "rule": a routing rule decided; "hand": a dispatcher chose; "none": no rule matched
    # and the case waits for a dispatcher; "waiting": routing has not run yet.
    kind: str
    event: CaseEvent | None = None
    rule: RoutingRule | None = None
    # The rule's name when it decided (from the event), in case it was renamed or deleted.
    rule_name: str = ""
    scope: list[str] = field(default_factory=list)
    # Rules tried before the one that decided, with why each did not apply.
    passed_over: list[dict] = field(default_factory=list)
    # A dispatcher chose by hand after routing found no rule.
    after_no_rule: bool = False
    dry_run_url: str = ""


def rule_scope(rule: RoutingRule) -> list[str]:
    """What a rule covers, in words: category, place, urgency."""
    parts = [
        _("category %(code)s and below") % {"code": rule.category.full_code}
        if rule.category_id
        else _("any category")
    ]
    if rule.area_id:
        parts.append(
            _("in %(level)s %(name)s")
            % {"level": rule.area.get_level_display(), "name": rule.area.name}
        )
    elif rule.grid_code:
        parts.append(_("in unit grid %(code)s") % {"code": rule.grid_code})
    elif rule.shape is not None:
        parts.append(_("inside a drawn area"))
    else:
        parts.append(_("anywhere"))
    if rule.urgency:
        parts.append(_("urgency %(urgency)s") % {"urgency": rule.get_urgency_display()})
    return parts


def department_explanation(
    case: Case, events: list[CaseEvent], user
) -> DepartmentExplanation | None:
    """Why the case is with its department now, from ``events`` (the case's history in
    order, already loaded for the page). None before routing has anything to say."""
    routing = [event for event in events if event.action in ("dispatch", "route_none")]
    last = routing[-1] if routing else None
    explanation = None
    if case.department_id is not None and last is not None and last.action == "dispatch":
        if last.payload.get("rule"):
            explanation = DepartmentExplanation("rule", event=last)
            trace = last.payload.get("trace") or []
            decided = [step for step in trace if step.get("matched")]
            explanation.rule_name = decided[-1]["name"] if decided else ""
            explanation.passed_over = [step for step in trace if not step.get("matched")]
            if case.routing_rule_id == last.payload["rule"]:
                rule = (
                    RoutingRule.objects.select_related("category", "area")
                    .filter(pk=case.routing_rule_id)
                    .first()
                )
                if rule is not None:
                    explanation.rule = rule
                    explanation.scope = rule_scope(rule)
                    explanation.rule_name = explanation.rule_name or rule.name
        else:
            explanation = DepartmentExplanation(
                "hand",
                event=last,
                after_no_rule=any(event.action == "route_none" for event in routing),
            )
    elif case.department_id is None and last is not None and last.action == "route_none":
        explanation = DepartmentExplanation("none", event=last)
        explanation.passed_over = last.payload.get("trace") or []
    elif case.department_id is None and case.needs_routing:
        explanation = DepartmentExplanation("waiting")
    if explanation is not None and user.has_role(Role.DISPATCHER, Role.ADMINISTRATOR):
        query = {
            "lon": case.point.x,
            "lat": case.point.y,
            "category": case.category_id,
            "urgency": case.urgency,
        }
        explanation.dry_run_url = reverse("cases:routing") + "?" + urlencode(query)
    return explanation
