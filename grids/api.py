"""Read API for the city's geography: areas and unit grids as GeoJSON, and locate.

Any signed-in staff role may read (REST_FRAMEWORK's default permissions): grid
boundaries are not secret, and the workers' names are for staff, which everyone let in is.
"""

from django.conf import settings
from django.contrib.gis.geos import Point, Polygon
from django.db import connections
from django.db.models import Case, Q, QuerySet, When
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from .models import Area, GridAssignment, UnitGrid, locate
from .serializers import (
    AreaFeatureSerializer,
    AreaQuerySerializer,
    GridFeatureSerializer,
    GridQuerySerializer,
    LocateQuerySerializer,
    LocationSerializer,
    area_features,
    grid_features,
    with_current_assignments,
)


def meeting_bbox(queryset: QuerySet, bbox: Polygon) -> QuerySet:
    """Rows whose boundary meets ``bbox``."""
    queryset = queryset.filter(boundary__intersects=bbox)
    if connections[queryset.db].vendor == "sqlite":
        # SpatiaLite consults its R*Tree only when asked (as in grids.models.locate);
        # without it every boundary in the table would be tested.
        xmin, ymin, xmax, ymax = bbox.extent
        index = f"idx_{queryset.model._meta.db_table}_boundary"
        queryset = queryset.filter(
            id__in=RawSQL(
                f'SELECT pkid FROM "{index}"'
                " WHERE xmin <= %s AND xmax >= %s AND ymin <= %s AND ymax >= %s",
                (xmax, xmin, ymax, ymin),
            )
        )
    return queryset


def capped(features: QuerySet, *, bbox: Polygon | None) -> tuple[list, int]:
    """At most MAP_MAX_FEATURES rows and how many were left out. Without a bbox, a
    request for more than that is refused: the client should ask for what it shows."""
    cap = settings.MAP_MAX_FEATURES
    rows = list(features[: cap + 1])
    if len(rows) <= cap:
        return rows, 0
    total = features.count()
    if bbox is None:
        raise ValidationError(
            {
                "bbox": _(
                    "%(total)d features match, more than the %(cap)d one response holds: "
                    "give a bbox."
                )
                % {"total": total, "cap": cap}
            }
        )
    return rows[:cap], total - cap


# Areas a search answers with at most: a place finder shows a short list.
SEARCH_RESULTS = 20


def first_found(found: QuerySet) -> tuple[list, int]:
    """The first SEARCH_RESULTS rows a search found, and how many more it matches."""
    rows = list(found[:SEARCH_RESULTS])
    return rows, found.count() - SEARCH_RESULTS if len(rows) == SEARCH_RESULTS else 0


CAPPED = (
    "At most MAP_MAX_FEATURES features (5,000 by default), in code order; the collection's "
    "`left_out` says how many more match. Without a bbox, more than that is a 400."
)
SEARCHED = (
    f"With `q`, at most {SEARCH_RESULTS} areas, the closest matches first (the exact name or "
    "code, then names beginning with it, larger areas first); `left_out` says how many more "
    "match. "
)


def feature_collection(serializer_class, rows: list, left_out: int) -> Response:
    collection = serializer_class(rows, many=True).data
    # A foreign member (RFC 7946 §6.1): how many more features the box holds.
    collection["left_out"] = left_out
    return Response(collection)


class AreaList(APIView):
    @extend_schema(
        summary="Districts, streets and communities as a GeoJSON FeatureCollection",
        description=SEARCHED + CAPPED,
        parameters=[AreaQuerySerializer],
        responses=AreaFeatureSerializer(many=True),
    )
    def get(self, request):
        query = AreaQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        areas: QuerySet = Area.objects.all()
        if "level" in query.validated_data:
            areas = areas.filter(level=query.validated_data["level"])
        bbox = query.validated_data.get("bbox")
        if bbox is not None:
            areas = meeting_bbox(areas, bbox)
        features = area_features(areas, zoom=query.validated_data.get("zoom"))
        if "q" in query.validated_data:
            rows, left_out = first_found(searched(features, query.validated_data["q"]))
        else:
            rows, left_out = capped(features, bbox=bbox)
        return feature_collection(AreaFeatureSerializer, rows, left_out)


def searched(areas: QuerySet, text: str) -> QuerySet:
    """Areas named with ``text`` or coded from it: the exact name or code first, then
    names that begin with it, then the rest; larger areas before smaller ones."""
    text = text.strip()
    rank = Case(
        When(Q(name=text) | Q(code=text), then=0),
        When(name__startswith=text, then=1),
        default=2,
    )
    level = Case(
        *(When(level=value, then=i) for i, value in enumerate(Area.Level.values)), default=9
    )
    return (
        areas.filter(Q(name__icontains=text) | Q(code__startswith=text))
        .annotate(rank=rank, level_rank=level)
        .order_by("rank", "level_rank", "code")
    )


class GridList(APIView):
    @extend_schema(
        summary="Current unit grids with their workers as a GeoJSON FeatureCollection",
        description=(
            f"With `code`, at most {SEARCH_RESULTS} grids whose code begins with it; "
            "`left_out` says how many more match. " + CAPPED
        ),
        parameters=[GridQuerySerializer],
        responses=GridFeatureSerializer(many=True),
    )
    def get(self, request):
        query = GridQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        grids: QuerySet = UnitGrid.objects.current()
        if "community" in query.validated_data:
            grids = grids.filter(community=query.validated_data["community"])
        bbox = query.validated_data.get("bbox")
        if bbox is not None:
            grids = meeting_bbox(grids, bbox)
        features = grid_features(grids, zoom=query.validated_data.get("zoom"))
        if "code" in query.validated_data:
            code = query.validated_data["code"]
            rows, left_out = first_found(features.filter(code__startswith=code))
        else:
            rows, left_out = capped(features, bbox=bbox)
        return feature_collection(GridFeatureSerializer, with_current_assignments(rows), left_out)


class Locate(APIView):
    @extend_schema(
        summary="The unit grid, areas and workers at a point; outside coverage is not an error",
        parameters=[LocateQuerySerializer],
        responses=LocationSerializer,
    )
    def get(self, request):
        query = LocateQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        location = locate(
            Point(query.validated_data["lon"], query.validated_data["lat"], srid=4326)
        )
        workers: dict[str, str] = {}
        if location.covered:
            for assignment in (
                GridAssignment.objects.active_on(timezone.localdate())
                .filter(grid=location.grid)
                .select_related("worker")
                .order_by("-start")
            ):
                workers.setdefault(assignment.duty, str(assignment.worker))
        return Response(LocationSerializer(location, context={"workers": workers}).data)
