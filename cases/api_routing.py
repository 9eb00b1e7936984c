"""Routing dry run in JSON: for this point, category and urgency, which rule, department
and officer routing would choose now, and why each rule did or did not apply. The same
decision function as the routing check page (cases:routing) and the routing task."""

from django.contrib.gis.geos import Point
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from grids.serializers import LocationSerializer, QuerySerializer
from org.models import Role

from .clock import calendar_for
from .forms import leaf_categories
from .models import Category, Urgency
from .routing import choose_assignee, routing_dry_run
from .routing_explain import rule_scope


class DispatcherOrAdministrator(permissions.BasePermission):
    message = gettext_lazy("Only dispatchers and administrators may check routing.")

    def has_permission(self, request, view) -> bool:
        return request.user.has_role(Role.DISPATCHER, Role.ADMINISTRATOR)


class DryRunQuerySerializer(QuerySerializer):
    lon = serializers.FloatField(
        min_value=-180, max_value=180, help_text=gettext_lazy("WGS84 longitude.")
    )
    lat = serializers.FloatField(
        min_value=-90, max_value=90, help_text=gettext_lazy("WGS84 latitude.")
    )
    category = serializers.CharField(
        max_length=20,
        help_text=gettext_lazy("A category cases are filed under: its code (E0102) or its id."),
    )
    urgency = serializers.ChoiceField(choices=Urgency.choices, default=Urgency.NORMAL)

    def validate_category(self, value: str) -> Category:
        leaves = leaf_categories()
        found = (
            leaves.filter(pk=int(value)).first()
            if value.isdigit()
            else leaves.filter(full_code=value.strip().upper()).first()
        )
        if found is None:
            raise serializers.ValidationError(
                _("There is no category with this code or id that cases are filed under.")
            )
        return found


class RuleSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    priority = serializers.IntegerField()
    scope = serializers.ListField(child=serializers.CharField())


class RefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ReasonSerializer(serializers.Serializer):
    rule = RefSerializer()
    priority = serializers.IntegerField()
    department = RefSerializer()
    matched = serializers.BooleanField()
    why = serializers.CharField()


class DryRunSerializer(serializers.Serializer):
    location = LocationSerializer()
    rule = RuleSerializer(allow_null=True)
    department = RefSerializer(allow_null=True)
    assignee = RefSerializer(allow_null=True)
    assignee_note = serializers.CharField(allow_null=True)
    why = serializers.CharField()
    reasons = ReasonSerializer(many=True)


def assignee_candidate(department) -> tuple:
    """Who routing would assign now, and a note when nobody: the real chooser, run in a
    transaction that is rolled back, so the round-robin pointer does not move. (It locks
    the department's policy row for that moment, as a routing would.)"""
    now = timezone.now()
    if not calendar_for(department).is_working_time(now):
        return None, _("Off duty now: the case would wait in the department's inbox.")
    with transaction.atomic():
        chosen = choose_assignee(department, now, claim=False)
        transaction.set_rollback(True)
    if chosen is None:
        return None, _("No officer of the department is available (all on leave, or none).")
    return chosen, None


def ref(obj) -> dict | None:
    return None if obj is None else {"id": obj.pk, "name": str(obj)}


class RoutingDryRun(APIView):
    permission_classes = [
        permissions.IsAuthenticated,
        DispatcherOrAdministrator,
    ]

    @extend_schema(
        summary="Which rule, department and officer routing would choose here, and why",
        description=(
            "Runs the routing rules in priority order for a point, category and urgency, "
            "without filing anything: the first rule that matches decides; `reasons` says "
            "for every rule tried why it did or did not apply. `assignee` is the officer the "
            "department's chooser would pick now (null with `assignee_note` when off duty or "
            "nobody is available). Dispatchers and administrators only. Bad input is a 400 "
            '`{"detail", "field"}`.'
        ),
        parameters=[DryRunQuerySerializer],
        responses=DryRunSerializer,
        examples=[
            OpenApiExample(
                "Decided by a rule",
                value={
                    "rule": {
                        "id": 3,
                        "name": "Exposed garbage in Donghuamen",
                        "priority": 10,
                        "scope": ["category E0102 and below", "in street 东华门街道"],
                    },
                    "department": {"id": 2, "name": "环卫中心"},
                    "assignee": {"id": 9, "name": "陈杰"},
                    "assignee_note": None,
                    "why": "Rule “Exposed garbage in Donghuamen” (priority 10): 环卫中心.",
                },
                response_only=True,
            )
        ],
    )
    def get(self, request):
        query = DryRunQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        where, decision = routing_dry_run(
            point=Point(data["lon"], data["lat"], srid=4326),
            category=data["category"],
            urgency=data["urgency"],
        )
        assignee, note = None, None
        if decision.department is not None:
            assignee, note = assignee_candidate(decision.department)
        else:
            note = _("No department: the case would wait for a dispatcher.")
        rule = decision.rule
        body = {
            "location": where,
            "rule": None
            if rule is None
            else {
                "id": rule.pk,
                "name": rule.name,
                "priority": rule.priority,
                "scope": rule_scope(rule),
            },
            "department": ref(decision.department),
            "assignee": ref(assignee),
            "assignee_note": note,
            "why": str(decision.why),
            "reasons": [
                {
                    "rule": ref(tried),
                    "priority": tried.priority,
                    "department": ref(tried.department),
                    "matched": matched,
                    "why": str(why),
                }
                for tried, matched, why in decision.trace
            ],
        }
        return Response(DryRunSerializer(body).data)
