"""Input and output of the cases API. Inputs parse and normalise; the domain flow is in

``cases.services.case_report`` and ``cases.workflow.perform``, as for the pages."""

import copy
from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework_gis.fields import GeometryField

from governance.db import request_tokens
from keys.models import SCOPE_PERSONAL_DATA, ApiKey
from org.models import Department, Role

from .models import (
    SOURCES_NEEDING_VERIFICATION,
    Case,
    CaseEvent,
    Category,
    FilingCondition,
    Source,
    Stage,
    Supervision,
    Urgency,
    validate_phone,
)
from .photos import process_photo
from .workflow import BY_ACTION, INTERNAL_PAYLOAD, Transition

# Citizens' contact details are for the centre, who call them back (as on the case page).
PERSONAL_DATA_ROLES = (Role.DISPATCHER, Role.SHIFT_LEADER)
# Photos in one request: more is a mistake, and each costs a decode and an encode.
MAX_PHOTOS = 10


def personal_data_allowed(user, auth) -> bool:
    """Whether a caller may read citizens' names and phones: a person of the centre, or an
    API key with the ``personal_data`` scope acting as one."""
    if isinstance(auth, ApiKey) and not auth.has_scope(SCOPE_PERSONAL_DATA):
        return False
    return user.is_authenticated and user.has_role(*PERSONAL_DATA_ROLES)


class PhotosField(serializers.ListField):
    """Photos sent as multipart files under the same name; each is checked, turned upright
    and stripped of metadata (cases.photos), or refused with the reason."""

    child = serializers.FileField()

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", MAX_PHOTOS)
        kwargs.setdefault(
            "help_text",
            _("JPEG, PNG or WebP photos (multipart/form-data), each under PHOTO_MAX_BYTES."),
        )
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        uploads = super().to_internal_value(data)
        processed = []
        for upload in uploads:
            try:
                processed.append(process_photo(upload))
            except DjangoValidationError as error:
                raise serializers.ValidationError(error.messages) from None
        return processed


# (token of RoutingVersion, the active minor classes by id) as last read in this process.
_leaves: tuple[str, dict[int, Category]] | None = None


class MinorClassField(serializers.PrimaryKeyRelatedField):
    """An active minor class by id, looked up among those this process keeps while the
    token of ``RoutingVersion`` (which every write to the categories changes) holds, as
    the request read it: no query of its own."""

    def to_internal_value(self, data):
        global _leaves
        request = self.context.get("request")
        if request is None:
            return super().to_internal_value(data)
        token = request_tokens(request)["cases.RoutingVersion"]
        held = _leaves
        if held is None or held[0] != token:
            held = _leaves = (token, {c.pk: c for c in self.get_queryset()})
        if isinstance(data, bool):
            self.fail("incorrect_type", data_type=type(data).__name__)
        try:
            pk = Category._meta.pk.to_python(data)
        except DjangoValidationError:
            self.fail("incorrect_type", data_type=type(data).__name__)
        found = held[1].get(pk)
        if found is None:
            self.fail("does_not_exist", pk_value=data)
        return found


class CaseCreateSerializer(serializers.Serializer):
    category = MinorClassField(
        queryset=Category.objects.filter(
            is_active=True, children__isnull=True, parent__isnull=False
        ),
        help_text=_("A minor class (a category with no children)."),
    )
    description = serializers.CharField(max_length=2000)
    lon = serializers.FloatField(min_value=-180, max_value=180, required=False)
    lat = serializers.FloatField(min_value=-90, max_value=90, required=False)
    urgency = serializers.ChoiceField(choices=Urgency.choices, default=Urgency.NORMAL)
    address = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    source = serializers.ChoiceField(
        choices=Source.choices,
        required=False,
        help_text=_("A grid worker reports from patrol; the centre registers other sources."),
    )
    citizen_name = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default=""
    )
    citizen_phone = serializers.CharField(
        max_length=30, required=False, allow_blank=True, default="", validators=[validate_phone]
    )
    self_handled = serializers.BooleanField(required=False, default=False)
    file = serializers.BooleanField(
        required=False,
        default=False,
        help_text=_(
            "File the case at once (the centre, for a report that needs no verification); "
            "routing follows."
        ),
    )
    photos = PhotosField()

    def get_fields(self):
        """The declared fields, copied shallow: DRF deep-copies every field (its
        arguments, choices and queryset) for each serializer, which cost a case created
        through the API a tenth of its CPU. A field keeps nothing of a request but what
        ``bind`` sets on the copy; a list field's child is copied too, with the copy as parent."""
        fields = {}
        for name, declared in self._declared_fields.items():
            field = fields[name] = copy.copy(declared)
            if isinstance(field, serializers.ListField):
                field.child = copy.copy(declared.child)
                field.child.parent = field
        return fields

    def validate(self, attrs):
        user = self.context["request"].user
        centre = user.has_role(Role.DISPATCHER)
        worker = user.has_role(Role.GRID_WORKER)
        source = attrs.get("source")
        if source is None:
            source = Source.PATROL if worker else Source.HOTLINE
        if source == Source.PATROL and not worker:
            raise serializers.ValidationError(
                {"source": _("Only a grid worker reports from patrol.")}
            )
        if source != Source.PATROL and not centre:
            raise serializers.ValidationError(
                {"source": _("Only the centre registers reports from this source.")}
            )
        if source == Source.PATROL and not attrs.get("photos"):
            raise serializers.ValidationError({"photos": _("Add at least one photo.")})
        if source == Source.PATROL and (attrs["citizen_name"] or attrs["citizen_phone"]):
            raise serializers.ValidationError(
                {"citizen_name": _("A patrol report has no citizen.")}
            )
        if attrs["self_handled"] and source != Source.PATROL:
            raise serializers.ValidationError(
                {"self_handled": _("Only a grid worker's own report can be self-handled.")}
            )
        if attrs["file"] and source in SOURCES_NEEDING_VERIFICATION:
            raise serializers.ValidationError(
                {"file": _("A hotline or public report is verified on site before it is filed.")}
            )
        attrs["source"] = source
        lon, lat = attrs.get("lon"), attrs.get("lat")
        if (lon is None) != (lat is None):
            raise serializers.ValidationError(
                {"lat" if lat is None else "lon": _("Give both lon and lat.")}
            )
        if lon is None:
            # No position given: take the one the camera recorded, if any.
            exif = next((p.exif_point for p in attrs.get("photos") or [] if p.exif_point), None)
            if exif is None:
                raise serializers.ValidationError(
                    {"lon": _("Give the position (lon, lat), or a photo that records it.")}
                )
            attrs["point"] = exif
        else:
            from django.contrib.gis.geos import Point

            attrs["point"] = Point(lon, lat, srid=4326)
        return attrs


class ActionInputSerializer(serializers.Serializer):
    """What an action may take; which of these it needs is in the case's allowed actions."""

    version = serializers.IntegerField(
        min_value=1,
        max_value=2**31 - 1,
        help_text=_("The case version you saw; 409 when the case changed since."),
    )
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    condition = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text=_("Filing condition id.")
    )
    department = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text=_("Department id.")
    )
    hours = serializers.DecimalField(
        max_digits=5,
        decimal_places=1,
        min_value=Decimal("0.5"),
        max_value=Decimal(2000),
        required=False,
    )
    level = serializers.ChoiceField(choices=Supervision.choices[1:], required=False)
    into = serializers.CharField(
        max_length=24, required=False, help_text=_("Case number (or #id) to merge into.")
    )
    photos = PhotosField()


class CategoryRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "full_code", "name", "name_en"]


class NamedRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


_GEOMETRY = GeometryField()
_DATETIME = serializers.DateTimeField()


def _point(point):
    """GeoJSON of a case's point, as ``GeometryField`` writes it, without its way through
    GDAL's JSON (a third of a millisecond)."""
    if point is not None and point.geom_type == "Point" and not point.hasz and not point.empty:
        return {"type": "Point", "coordinates": [point.x, point.y]}
    return _GEOMETRY.to_representation(point)


class CaseSerializer(serializers.ModelSerializer):
    reference = serializers.CharField(read_only=True)
    stage_label = serializers.CharField(source="get_stage_display", read_only=True)
    point = GeometryField()
    category = CategoryRefSerializer()
    grid = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    community = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    street = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    district = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    department = NamedRefSerializer(allow_null=True)
    assignee = serializers.StringRelatedField(allow_null=True)
    field_worker = serializers.StringRelatedField(allow_null=True)
    light = serializers.SerializerMethodField()
    citizen_name = serializers.SerializerMethodField()
    citizen_phone = serializers.SerializerMethodField()

    class Meta:
        model = Case
        fields = [
            "id",
            "number",
            "reference",
            "stage",
            "stage_label",
            "source",
            "category",
            "condition",
            "description",
            "urgency",
            "point",
            "address",
            "grid",
            "community",
            "street",
            "district",
            "department",
            "assignee",
            "field_worker",
            "deadline",
            "light",
            "supervision",
            "rework_count",
            "return_count",
            "merged_into",
            "reported_at",
            "filed_at",
            "closed_at",
            "version",
            "citizen_name",
            "citizen_phone",
        ]
        read_only_fields = fields

    def to_representation(self, case):
        """The fields above, read by hand: DRF builds a model serializer's fields anew for
        each serializer (a case created through the API spent 1.5 ms of its CPU there).
        ``tests/api/test_cases_api.py`` checks that this gives what DRF's own reading of
        the declared fields gives, case by case."""
        personal = self._personal()
        department = case.department
        return {
            "id": case.pk,
            "number": case.number,
            "reference": case.reference,
            "stage": case.stage,
            "stage_label": str(Stage(case.stage).label),
            "source": case.source,
            "category": {
                "id": case.category.pk,
                "full_code": case.category.full_code,
                "name": case.category.name,
                "name_en": case.category.name_en,
            },
            "condition": case.condition_id,
            "description": case.description,
            "urgency": case.urgency,
            "point": _point(case.point),
            "address": case.address,
            "grid": case.grid.code if case.grid_id else None,
            "community": case.community.code if case.community_id else None,
            "street": case.street.code if case.street_id else None,
            "district": case.district.code if case.district_id else None,
            "department": ({"id": department.pk, "name": department.name} if department else None),
            "assignee": str(case.assignee) if case.assignee_id else None,
            "field_worker": str(case.field_worker) if case.field_worker_id else None,
            "deadline": _DATETIME.to_representation(case.deadline),
            "light": case.light(),
            "supervision": case.supervision,
            "rework_count": case.rework_count,
            "return_count": case.return_count,
            "merged_into": case.merged_into_id,
            "reported_at": _DATETIME.to_representation(case.reported_at),
            "filed_at": _DATETIME.to_representation(case.filed_at),
            "closed_at": _DATETIME.to_representation(case.closed_at),
            "version": case.version,
            "citizen_name": case.citizen_name if personal else None,
            "citizen_phone": case.citizen_phone if personal else None,
        }

    @extend_schema_field(
        serializers.ChoiceField(choices=["green", "yellow", "red"], allow_null=True)
    )
    def get_light(self, case) -> str | None:
        return case.light()

    def _personal(self) -> bool:
        if "personal" not in self.context:
            request = self.context["request"]
            self.context["personal"] = personal_data_allowed(request.user, request.auth)
        return self.context["personal"]

    @extend_schema_field(
        serializers.CharField(
            allow_null=True, help_text=_("Null unless your role or key may see personal data.")
        )
    )
    def get_citizen_name(self, case) -> str | None:
        return case.citizen_name if self._personal() else None

    @extend_schema_field(
        serializers.CharField(
            allow_null=True, help_text=_("Null unless your role or key may see personal data.")
        )
    )
    def get_citizen_phone(self, case) -> str | None:
        return case.citizen_phone if self._personal() else None


class EventSerializer(serializers.ModelSerializer):
    actor = serializers.StringRelatedField(allow_null=True)
    label = serializers.SerializerMethodField()

    class Meta:
        model = CaseEvent
        fields = [
            "id",
            "at",
            "action",
            "label",
            "actor",
            "from_stage",
            "to_stage",
            "reason",
            "payload",
        ]
        read_only_fields = fields

    def to_representation(self, event):
        data = super().to_representation(event)
        if isinstance(data.get("payload"), dict):
            data["payload"] = {
                k: v for k, v in data["payload"].items() if k not in INTERNAL_PAYLOAD
            }
        return data

    def get_label(self, event) -> str:
        from .views import EVENT_LABELS

        transition = BY_ACTION.get(event.action)
        return str(EVENT_LABELS.get(event.action) or (transition.label if transition else ""))


class AllowedActionSerializer(serializers.Serializer):
    action = serializers.CharField()
    label = serializers.CharField()
    target = serializers.CharField(allow_null=True)
    needs_reason = serializers.BooleanField()
    inputs = serializers.ListField(child=serializers.CharField())
    photos_required = serializers.BooleanField()
    danger = serializers.BooleanField()

    def to_representation(self, transition: Transition):
        return {
            "action": transition.action,
            "label": str(transition.label),
            "target": transition.target,
            "needs_reason": transition.needs_reason,
            "inputs": list(transition.inputs),
            "photos_required": transition.action in ("report_done", "check_pass", "check_fail"),
            "danger": transition.danger,
        }


class ActionResultSerializer(serializers.Serializer):
    event = EventSerializer()
    case = CaseSerializer()


class FilingConditionSerializer(serializers.ModelSerializer):
    class Meta:
        model = FilingCondition
        fields = [
            "id",
            "condition",
            "limit_value",
            "limit_unit",
            "closing_condition",
            "default_department",
        ]


class CategorySerializer(serializers.ModelSerializer):
    conditions = serializers.SerializerMethodField()

    class Meta:
        model = Category
        fields = [
            "id",
            "kind",
            "full_code",
            "name",
            "name_en",
            "parent",
            "default_department",
            "conditions",
        ]

    @extend_schema_field(FilingConditionSerializer(many=True))
    def get_conditions(self, category):
        active = [c for c in category.conditions.all() if c.is_active]
        return FilingConditionSerializer(active, many=True).data


class DepartmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Department
        fields = ["id", "code", "name", "kind", "parent"]
