"""The cases API: report, list, read, act, follow, under /api/v1/cases/.

Each view fetches through ``CaseScope.cases()``, the pages' ``Case.objects.visible_to``
narrowed to an API key's areas, and changes cases only through ``case_report`` and
``workflow.perform``, as the pages do: the same rules, the same events, the same routing.
"""

import datetime
import uuid

import django_filters as filters
from django.db import IntegrityError
from django.db.models import Prefetch, Q
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, generics, parsers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.db import request_tokens
from grids.serializers import BBoxField
from keys.models import SCOPE_ACT_PREFIX, SCOPE_CASES_CREATE, SCOPE_CASES_READ, ApiRequestLog
from keys.permissions import key_of
from org.models import Department, Role

from .models import OPEN_STAGES, Case, Category, FilingCondition, Stage
from .serializers import (
    ActionInputSerializer,
    ActionResultSerializer,
    AllowedActionSerializer,
    CaseCreateSerializer,
    CaseSerializer,
    CategorySerializer,
    DepartmentSerializer,
    EventSerializer,
)
from .services import new_case
from .workflow import (
    BY_ACTION,
    CaseChanged,
    NotAllowed,
    TransitionError,
    allowed_actions,
    done_since,
    perform,
)

CASE_RELATED = [
    "category",
    "department",
    "grid",
    "community",
    "street",
    "district",
    "assignee",
    "field_worker",
]
# The areas' and grid's boundaries are large and not shown.
DEFERRED = ["grid__boundary", "community__boundary", "street__boundary", "district__boundary"]
UPLOAD_PARSERS = [parsers.JSONParser, parsers.MultiPartParser, parsers.FormParser]


def with_related(cases):
    return cases.select_related(*CASE_RELATED).defer(*DEFERRED)


class CasePagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


def transition_error(error: TransitionError) -> exceptions.APIException:
    """The workflow's refusal as the API's error: 409 for a stale version, 403 for a role
    or stage that does not allow it, 400 for bad input; each names its field."""
    if isinstance(error, CaseChanged):
        exc = exceptions.APIException(error.message)
        exc.status_code = status.HTTP_409_CONFLICT
        exc.field = "version"
    elif isinstance(error, NotAllowed):
        exc = exceptions.PermissionDenied(error.message)
        exc.field = None
    else:
        return exceptions.ValidationError({error.field or "non_field_errors": [error.message]})
    return exc


class CaseScope:
    """What the caller may see: the pages' visibility, narrowed to an API key's areas."""

    request: Request

    def cases(self):
        cases = Case.objects.visible_to(self.request.user)
        key = key_of(self.request)
        if key is not None:
            cases = key.restrict_cases(cases)
        return cases

    def get_case(self, pk: int) -> Case:
        """The case, or 404 when the caller may not see it (its existence is private)."""
        return get_object_or_404(with_related(self.cases()), pk=pk)


class CaseFilter(filters.FilterSet):
    stage = filters.MultipleChoiceFilter(choices=Stage.choices)
    category = filters.CharFilter(
        method="filter_category",
        help_text="Category code, e.g. E01 or E0102: the category and everything below it.",
    )
    department = filters.NumberFilter(field_name="department_id")
    grid = filters.CharFilter(field_name="grid__code", help_text="Unit grid code.")
    area = filters.CharFilter(method="filter_area", help_text="District, street or community code.")
    reported_from = filters.DateFilter(
        method="filter_reported_from", help_text="Reported on or after this day (local time)."
    )
    reported_to = filters.DateFilter(
        method="filter_reported_to", help_text="Reported on or before this day (local time)."
    )
    bbox = filters.CharFilter(
        method="filter_bbox", help_text="minlon,minlat,maxlon,maxlat in WGS84."
    )
    overdue = filters.BooleanFilter(
        method="filter_overdue", help_text="Open cases past their deadline (or not)."
    )

    class Meta:
        model = Case
        fields = ["stage", "urgency", "source"]

    def filter_category(self, queryset, name, value):
        return queryset.filter(category__full_code__startswith=value)

    def filter_area(self, queryset, name, value):
        return queryset.filter(
            Q(district__code=value) | Q(street__code=value) | Q(community__code=value)
        )

    @staticmethod
    def _midnight(day: datetime.date) -> datetime.datetime:
        return timezone.make_aware(datetime.datetime.combine(day, datetime.time()))

    def filter_reported_from(self, queryset, name, value):
        return queryset.filter(reported_at__gte=self._midnight(value))

    def filter_reported_to(self, queryset, name, value):
        return queryset.filter(reported_at__lt=self._midnight(value + datetime.timedelta(days=1)))

    def filter_bbox(self, queryset, name, value):
        try:
            box = BBoxField().run_validation(value)
        except exceptions.ValidationError as error:
            raise exceptions.ValidationError({"bbox": error.detail}) from None
        return queryset.filter(point__within=box)

    def filter_overdue(self, queryset, name, value):
        late = Q(stage__in=OPEN_STAGES, deadline__lt=timezone.now())
        return queryset.filter(late) if value else queryset.exclude(late)


# A request's own name for the report it makes: sent again, it makes no second case.
IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX = 255
# Keys are kept as UUIDs (CaseReporter.submission, as the report page's): any text is
# turned into one under this namespace, so a UUID sent is kept as a different UUID.
IDEMPOTENCY_NAMESPACE = uuid.UUID("5b0e4a0c-3f7d-4c55-9d8e-6c1f2a9b7e31")


def idempotency_key(request) -> uuid.UUID | None:
    text = request.headers.get(IDEMPOTENCY_HEADER)
    if text is None:
        return None
    text = text.strip()
    if not text or len(text) > IDEMPOTENCY_KEY_MAX:
        raise exceptions.ValidationError(
            {
                IDEMPOTENCY_HEADER: _("Send at most %(max)d characters, or no such header.")
                % {"max": IDEMPOTENCY_KEY_MAX}
            }
        )
    return uuid.uuid5(IDEMPOTENCY_NAMESPACE, text)


class CaseList(CaseScope, generics.ListAPIView):
    """Cases the caller may see, newest first; with POST, report a new one."""

    serializer_class = CaseSerializer
    pagination_class = CasePagination
    filterset_class = CaseFilter
    parser_classes = UPLOAD_PARSERS
    required_scopes = {"GET": SCOPE_CASES_READ, "POST": SCOPE_CASES_CREATE}

    def get_queryset(self):
        return with_related(self.cases()).order_by("-reported_at", "-id")

    def filter_queryset(self, queryset):
        from django_filters.rest_framework import DjangoFilterBackend

        return DjangoFilterBackend().filter_queryset(self.request, queryset, self)

    @extend_schema(summary="Cases you may see, with filters, newest first")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Report a case, placed in its unit grid (photos as multipart/form-data)",
        request={
            "application/json": CaseCreateSerializer,
            "multipart/form-data": CaseCreateSerializer,
        },
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description=(
                    "Any text of at most 255 characters naming this report in your system,"
                    " e.g. a UUID or your own ticket number. A request sent again with the"
                    " same key (after a timeout, say) makes no second case: it is answered"
                    " 200 with the case the first one made."
                ),
            )
        ],
        responses={201: CaseSerializer, 200: CaseSerializer},
    )
    def post(self, request):
        user = request.user
        if not user.has_role(Role.GRID_WORKER, Role.DISPATCHER):
            raise exceptions.PermissionDenied(_("Only grid workers and dispatchers report cases."))
        submission = idempotency_key(request)
        if submission is not None:
            earlier = self.made_by(submission)
            if earlier is not None:
                return earlier
        data = CaseCreateSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        values = data.validated_data
        key = key_of(request)
        if values["file"]:
            if not user.has_role(Role.DISPATCHER, Role.SHIFT_LEADER) or (
                key is not None and not key.has_scope(SCOPE_ACT_PREFIX + "file")
            ):
                raise exceptions.ValidationError({"file": _("You may not file cases.")})
        line = ApiRequestLog.of_request(request._request, status.HTTP_201_CREATED)
        try:
            # Reported and filed as one: computed in memory, written at once, with the
            # request's log line.
            with new_case(
                rules_token=request_tokens(request)["clocks.RulesVersion"],
                reporter=user,
                source=values["source"],
                point=values["point"],
                category=values["category"],
                description=values["description"],
                urgency=values["urgency"],
                address=values["address"],
                citizen_name=values["citizen_name"],
                citizen_phone=values["citizen_phone"],
                self_handled=values["self_handled"],
                photos=values.get("photos") or [],
                submission=submission,
            ) as new:
                # Checked on the case as located, before anything is written.
                if key is not None and not key.may_see_case(new.case):
                    raise exceptions.ValidationError(
                        {"lon": _("This point lies outside the areas of this API key.")}
                    )
                if values["file"]:
                    new.take("file", user)
                new.write_with(line)
        except TransitionError as error:
            raise transition_error(error) from None
        except IntegrityError:
            # The same key sent twice at once: the other request made the case.
            earlier = None if submission is None else self.made_by(submission)
            if earlier is None:
                raise
            return earlier
        request._request.api_request_logged = True  # the middleware writes no other
        case = new.case
        return Response(
            CaseSerializer(case, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )

    def made_by(self, submission: uuid.UUID) -> Response | None:
        """The answer to a request whose idempotency key made a case already."""
        case = with_related(Case.objects.submitted(self.request.user, submission)).first()
        if case is None:
            return None
        key = key_of(self.request)
        if key is not None and not key.may_see_case(case):
            raise exceptions.ValidationError(
                {IDEMPOTENCY_HEADER: _("This key was used for a report this API key may not see.")}
            )
        return Response(
            CaseSerializer(case, context={"request": self.request}).data,
            status=status.HTTP_200_OK,
            headers={"Idempotent-Replayed": "true"},
        )


class CaseDetail(CaseScope, APIView):
    required_scope = SCOPE_CASES_READ

    @extend_schema(summary="One case", responses=CaseSerializer)
    def get(self, request, pk: int):
        case = self.get_case(pk)
        return Response(CaseSerializer(case, context={"request": request}).data)


class CaseTimeline(CaseScope, APIView):
    required_scope = SCOPE_CASES_READ

    @extend_schema(
        summary="The case's events, oldest first: who did what, when and why",
        responses=EventSerializer(many=True),
    )
    def get(self, request, pk: int):
        case = self.get_case(pk)
        events = case.events.select_related("actor")
        return Response(EventSerializer(events, many=True).data)


def key_allows_action(request, action: str) -> bool:
    key = key_of(request)
    return key is None or key.has_scope(SCOPE_ACT_PREFIX + action)


class CaseActions(CaseScope, APIView):
    required_scope = SCOPE_CASES_READ

    @extend_schema(
        summary="The actions you may take on the case now, and the input each needs",
        responses=AllowedActionSerializer(many=True),
    )
    def get(self, request, pk: int):
        case = self.get_case(pk)
        actions = [
            t for t in allowed_actions(case, request.user) if key_allows_action(request, t.action)
        ]
        return Response(AllowedActionSerializer(actions, many=True).data)


class CaseAct(CaseScope, APIView):
    parser_classes = UPLOAD_PARSERS
    required_scope = SCOPE_CASES_READ

    @extend_schema(
        summary="Take an action on the case (through the workflow, as on the case page)",
        parameters=[
            OpenApiParameter(
                "action", OpenApiTypes.STR, OpenApiParameter.PATH, enum=sorted(BY_ACTION)
            )
        ],
        request={
            "application/json": ActionInputSerializer,
            "multipart/form-data": ActionInputSerializer,
        },
        responses={200: ActionResultSerializer},
    )
    def post(self, request, pk: int, action: str):
        if action not in BY_ACTION:
            raise Http404
        case = self.get_case(pk)
        if not key_allows_action(request, action):
            raise exceptions.PermissionDenied(
                _("This API key does not have the scope for this action.")
            )
        data = ActionInputSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        values = data.validated_data
        workflow_data = {
            name: values[name] for name in ("condition", "department", "level") if name in values
        }
        if "hours" in values:
            workflow_data["hours"] = str(values["hours"])
        if "into" in values:
            workflow_data["into"] = self.find_case_pk(values["into"])
        try:
            event = perform(
                case,
                action,
                request.user,
                version=values["version"],
                reason=values["reason"],
                data=workflow_data,
                photos=values.get("photos") or [],
            )
        except TransitionError as error:
            event = None
            if isinstance(error, CaseChanged):
                event = done_since(
                    case,
                    action,
                    request.user,
                    values["version"],
                    reason=values["reason"],
                    data=workflow_data,
                    photos=values.get("photos") or [],
                )
            if event is None:
                raise transition_error(error) from None
            # Sent again (a timeout, a lost answer): it was done; the same answer.
            replayed = {"Idempotent-Replayed": "true"}
        else:
            replayed = {}
        case = self.get_case(pk) if case.stage != Stage.MERGED else case
        return Response(
            ActionResultSerializer(
                {"event": event, "case": case}, context={"request": request}
            ).data,
            headers=replayed,
        )

    def find_case_pk(self, reference: str) -> int | None:
        """A case number, or a provisional "#123" reference, among the cases one sees."""
        reference = reference.strip().lstrip("#")
        visible = self.cases()
        found = visible.filter(number=reference).values_list("pk", flat=True).first()
        if found is None and reference.isdigit() and len(reference) < 19:
            found = visible.filter(pk=int(reference)).values_list("pk", flat=True).first()
        return found


class CategoryList(APIView):
    @extend_schema(
        summary="The category tree (C/E → major → minor) with active filing conditions",
        responses=CategorySerializer(many=True),
    )
    def get(self, request):
        categories = Category.objects.filter(is_active=True).prefetch_related(
            Prefetch("conditions", queryset=FilingCondition.objects.order_by("id"))
        )
        return Response(CategorySerializer(categories, many=True).data)


class DepartmentList(APIView):
    @extend_schema(summary="Active departments", responses=DepartmentSerializer(many=True))
    def get(self, request):
        departments = Department.objects.filter(is_active=True).order_by("code")
        return Response(DepartmentSerializer(departments, many=True).data)
