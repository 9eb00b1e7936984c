"""What the grids API reads from a request and writes back; the map pages embed the same
GeoJSON."""

import json
import math

from django.contrib.gis.db.models.functions import AsGeoJSON, GeomOutputGeoFunc
from django.contrib.gis.geos import Polygon
from django.db.models import F, Prefetch, QuerySet, Value, prefetch_related_objects
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.settings import api_settings
from rest_framework_gis.fields import GeometryField
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from .models import Area, GridAssignment, UnitGrid

# RFC 7946 §11.2: six decimals are about 10 cm, finer than any boundary is surveyed.
COORDINATE_DECIMALS = 6
# From this zoom on boundaries are sent as stored; below it, simplified for the screen.
FULL_DETAIL_ZOOM = 16
MAX_ZOOM = 22


class SimplifyPreserveTopology(GeomOutputGeoFunc):
    """Fewer vertices without self-intersections or vanished rings (GEOS on both backends),
    still a MultiPolygon: GEOS gives a one-part MultiPolygon back as a Polygon, which
    breaks the type the schema promises (and a client that reads it as declared)."""

    function = "ST_SimplifyPreserveTopology"
    template = "ST_Multi(%(function)s(%(expressions)s))"

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler,
            connection,
            function="SimplifyPreserveTopology",
            template="CastToMulti(%(function)s(%(expressions)s))",
            **extra_context,
        )


def simplify_tolerance(zoom: int | None) -> float | None:
    """Half a screen pixel at ``zoom`` in degrees (256-pixel tiles): no one sees the
    difference, and the vertices a screen cannot show are not sent."""
    if zoom is None or zoom >= FULL_DETAIL_ZOOM:
        return None
    return 360 / (256 * 2**zoom) / 2


def boundary_geojson(zoom: int | None) -> AsGeoJSON:
    """The boundary as GeoJSON text written by the database: parsing that text costs a
    fraction of building a GEOS geometry per feature and exporting it (see BoundaryField)."""
    tolerance = simplify_tolerance(zoom)
    boundary = (
        F("boundary")
        if tolerance is None
        else SimplifyPreserveTopology("boundary", Value(tolerance))
    )
    return AsGeoJSON(boundary, precision=COORDINATE_DECIMALS)


def area_features(areas: QuerySet, *, zoom: int | None = None) -> QuerySet:
    """Areas with what AreaFeatureSerializer reads."""
    return (
        areas.only("id", "code", "name", "level")
        .annotate(parent_code=F("parent__code"), geojson=boundary_geojson(zoom))
        .order_by("code")
    )


def grid_features(grids: QuerySet, *, zoom: int | None = None) -> QuerySet:
    """Unit grids with what GridFeatureSerializer reads, except their workers
    (``with_current_assignments`` adds those to the rows kept)."""
    return (
        grids.only("id", "code", "community_id", "area_m2", "land_use", "management_level")
        .annotate(
            community_code=F("community__code"),
            community_name=F("community__name"),
            geojson=boundary_geojson(zoom),
        )
        .order_by("code")
    )


def with_current_assignments(grids: list[UnitGrid]) -> list[UnitGrid]:
    """Give each grid ``current_assignments`` (today's, worker loaded) in one query."""
    today = timezone.localdate()
    prefetch_related_objects(
        grids,
        Prefetch(
            "assignments",
            queryset=GridAssignment.objects.active_on(today)
            .select_related("worker")
            .only("grid", "duty", "start", "worker__username", "worker__full_name")
            # Not the model's ordering, which joins the grids only to sort by their code.
            .order_by("duty", "-start"),
            to_attr="current_assignments",
        ),
    )
    return grids


def worker_name(grid: UnitGrid, duty: str) -> str | None:
    for assignment in grid.current_assignments:  # the newest first
        if assignment.duty == duty:
            return str(assignment.worker)
    return None


# ----------------------------------------------------------------------------- output


class BoundaryField(GeometryField):
    """The boundary as the database wrote it in GeoJSON: the ``geojson`` annotation of
    ``area_features`` / ``grid_features``. Declared on ``boundary`` so that the OpenAPI
    schema knows its geometry type."""

    def get_attribute(self, instance):
        return instance.geojson

    def to_representation(self, value):
        return None if value is None else json.loads(value)


class AreaFeatureSerializer(GeoFeatureModelSerializer):
    boundary = BoundaryField(read_only=True)
    parent_code = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = Area
        geo_field = "boundary"
        fields = ["id", "code", "name", "level", "parent_code"]


class GridFeatureSerializer(GeoFeatureModelSerializer):
    boundary = BoundaryField(read_only=True)
    community_code = serializers.CharField(read_only=True)
    community_name = serializers.CharField(read_only=True)
    responsible = serializers.SerializerMethodField()
    deputy = serializers.SerializerMethodField()

    class Meta:
        model = UnitGrid
        geo_field = "boundary"
        fields = [
            "id",
            "code",
            "community_code",
            "community_name",
            "area_m2",
            "land_use",
            "management_level",
            "responsible",
            "deputy",
        ]

    def get_responsible(self, grid) -> str | None:
        return worker_name(grid, GridAssignment.Duty.RESPONSIBLE)

    def get_deputy(self, grid) -> str | None:
        return worker_name(grid, GridAssignment.Duty.DEPUTY)

    def to_representation(self, grid):
        # A map asks for thousands of grids at once: DRF's field by field walk costs
        # 20-60 µs a grid, most of the response time for a district. The output is
        # the same (tests/grids/test_api.py compares it); the fields above describe it.
        return {
            "id": grid.pk,
            "type": "Feature",
            "geometry": json.loads(grid.geojson),
            "properties": {
                "code": grid.code,
                "community_code": grid.community_code,
                "community_name": grid.community_name,
                "area_m2": grid.area_m2,
                "land_use": grid.land_use,
                "management_level": grid.management_level,
                "responsible": self.get_responsible(grid),
                "deputy": self.get_deputy(grid),
            },
        }


class AreaRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class GridRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()


class LocationSerializer(serializers.Serializer):
    """A ``grids.models.Location``; the workers' names come in the context."""

    covered = serializers.BooleanField()
    lon = serializers.FloatField(source="point.x")
    lat = serializers.FloatField(source="point.y")
    grid = GridRefSerializer(allow_null=True)
    community = AreaRefSerializer(allow_null=True)
    street = AreaRefSerializer(allow_null=True)
    district = AreaRefSerializer(allow_null=True)
    worker = serializers.SerializerMethodField()
    deputy = serializers.SerializerMethodField()
    detail = serializers.SerializerMethodField()

    def get_worker(self, location) -> str | None:
        return self.context.get("workers", {}).get(GridAssignment.Duty.RESPONSIBLE)

    def get_deputy(self, location) -> str | None:
        return self.context.get("workers", {}).get(GridAssignment.Duty.DEPUTY)

    def get_detail(self, location) -> str | None:
        if location.covered:
            return None
        return str(_("Outside coverage: no current unit grid contains this point."))


# ------------------------------------------------------------------------------ input


@extend_schema_field(OpenApiTypes.STR)
class BBoxField(serializers.Field):
    """``minlon,minlat,maxlon,maxlat`` in WGS84, as a Polygon."""

    default_error_messages = {
        "invalid": _(
            "Give four numbers: min longitude, min latitude, max longitude, max latitude."
        ),
        "range": _("Longitudes must lie within -180..180 and latitudes within -90..90."),
        "order": _("Each minimum must be less than its maximum."),
    }

    def to_internal_value(self, data) -> Polygon:
        parts = str(data).split(",")
        if len(parts) != 4:
            self.fail("invalid")
        try:
            xmin, ymin, xmax, ymax = (float(part) for part in parts)
        except ValueError:
            self.fail("invalid")
        if not all(math.isfinite(v) for v in (xmin, ymin, xmax, ymax)):
            self.fail("invalid")
        longitudes_ok = -180 <= xmin <= 180 and -180 <= xmax <= 180
        if not (longitudes_ok and -90 <= ymin <= 90 and -90 <= ymax <= 90):
            self.fail("range")
        if xmin >= xmax or ymin >= ymax:
            self.fail("order")
        box = Polygon.from_bbox((xmin, ymin, xmax, ymax))
        box.srid = 4326
        return box

    def to_representation(self, value) -> str:
        return ",".join(str(v) for v in value.extent)


class QuerySerializer(serializers.Serializer):
    """Query parameters: a misspelt one is an error, not silently ignored."""

    def validate(self, attrs):
        # api_key: Open311 clients send their key as a query parameter (keys.authentication).
        allowed = set(self.fields) | {api_settings.URL_FORMAT_OVERRIDE, "api_key"}
        unknown = sorted(set(self.initial_data) - allowed)
        if unknown:
            raise serializers.ValidationError(
                {
                    unknown[0]: _("Unknown parameter; this endpoint takes %(names)s.")
                    % {"names": ", ".join(sorted(self.fields))}
                }
            )
        return attrs


class MapQuerySerializer(QuerySerializer):
    bbox = BBoxField(
        required=False,
        help_text=_("Only features meeting this box: minlon,minlat,maxlon,maxlat (WGS84)."),
    )
    zoom = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_ZOOM,
        help_text=_("The map's zoom: below 16 boundaries are simplified to half a pixel."),
    )


class AreaQuerySerializer(MapQuerySerializer):
    level = serializers.ChoiceField(choices=Area.Level.choices, required=False)
    q = serializers.CharField(
        required=False,
        max_length=50,
        help_text=_(
            "Find areas by name or code: those whose name contains it or whose code begins "
            "with it, the closest matches first."
        ),
    )


class GridQuerySerializer(MapQuerySerializer):
    community = serializers.CharField(
        required=False, max_length=12, help_text=_("A community's 12-digit code.")
    )
    code = serializers.RegexField(
        r"^\d{1,20}$",
        required=False,
        help_text=_("Grids whose code begins with these digits, in code order."),
        error_messages={"invalid": _("A grid code is digits only.")},
    )

    def validate_community(self, code: str) -> Area:
        community = Area.objects.filter(code=code, level=Area.Level.COMMUNITY).first()
        if community is None:
            raise serializers.ValidationError(_("There is no community with this code."))
        return community


class LocateQuerySerializer(QuerySerializer):
    lon = serializers.FloatField(min_value=-180, max_value=180, help_text=_("WGS84 longitude."))
    lat = serializers.FloatField(min_value=-90, max_value=90, help_text=_("WGS84 latitude."))
