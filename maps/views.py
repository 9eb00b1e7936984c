"""The shared case map: the page, its layers (vector tiles on PostGIS, GeoJSON by bbox
anywhere, a heat layer), a case's summary for the popup, and the version the page polls."""

import hashlib
import json
import time
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.contrib.gis.db.models import Extent
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse, HttpResponseNotModified, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from cases.models import Stage
from cases.views import get_case_for_user
from governance.db import custom_plans
from grids.models import UnitGrid
from grids.views import base_layers
from org.models import Role

from . import queries
from .forms import OPEN, MapFilterForm, category_choices
from .models import current_version

# A cached layer lives at most this long: the light of a case moves with the clock even
# when nothing is written, and a person's scope (memberships, grid assignments) may change.
CACHE_SECONDS = 120
# Layers are cached per minute as well as per version, so lights are at most a minute old.
CLOCK_STEP = 60
POLL_SECONDS = 3
MVT = "application/vnd.mapbox-vector-tile"


def error(message: str, status: int, field: str = "") -> JsonResponse:
    return JsonResponse({"detail": message, "field": field}, status=status)


def staff_only(view: Callable) -> Callable:
    """A signed-in person holding a role. Pages redirect to the log-in page; the layers,
    which the page fetches, answer in JSON."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        page = view.__name__ == "map_page"
        if not request.user.is_authenticated:
            if page:
                return redirect_to_login(request.get_full_path())
            return error(_("Log in first."), 401)
        if not request.user.roles:
            if page:
                return redirect("no_role")
            return error(_("You hold no role in GridGov; ask an administrator."), 403)
        return view(request, *args, **kwargs)

    return wrapper


def filters(request) -> MapFilterForm | JsonResponse:
    form = MapFilterForm(request.GET)
    if not form.is_valid():
        message, field = form.first_error()
        return error(message, 400, field)
    return form


def cached_layer(
    request,
    form,
    name: str,
    build: Callable[[], bytes],
    content_type: str,
    rollups: int | None = None,
):
    """Answer a layer from the cache when nothing changed, else build it.

    The key holds the case version (raised after every committed change to cases), the
    minute, the viewer's scope, the filters and the layer: a stale layer is never served,
    and the browser revalidates with If-None-Match (answered 304 without building)."""
    version = current_version()
    minute = int(time.time() // CLOCK_STEP)
    raw = f"{version}|{minute}|{queries.scope_key(request.user)}|{form.key()}|{name}"
    if rollups is not None:
        # Counts read from the roll-ups change when they catch up, after the cases do.
        raw += f"|rollups {rollups}"
    key = hashlib.sha256(raw.encode()).hexdigest()[:32]
    etag = f'"{key}"'
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponseNotModified()
    else:
        body = cache.get(f"maps:{key}")
        hit = body is not None
        if not hit:
            # Each tile's statement planned for its own box and areas: the generic plan
            # that PostgreSQL may settle on for a statement run often read a tile in
            # 140 ms (median) where the tile's own plan read it in 8.
            with custom_plans():
                body = build()
            cache.set(f"maps:{key}", body, CACHE_SECONDS)
        response = HttpResponse(body, content_type=content_type)
        response["X-Map-Cache"] = "hit" if hit else "miss"
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-cache"
    response["X-Map-Version"] = str(version)
    return response


# ---------------------------------------------------------------------------- page


def map_extent(user):
    """Where the map opens: the viewer's own grids for a grid worker, else every grid."""
    grids = UnitGrid.objects.current()
    if user.has_role(Role.GRID_WORKER) and not user.has_role(
        Role.SUPERVISOR, Role.DISPATCHER, Role.SHIFT_LEADER, Role.ADMINISTRATOR, Role.OFFICER
    ):
        mine = grids.covered_by(user)
        if mine.exists():
            grids = grids.filter(pk__in=mine.values("pk"))
    return grids.aggregate(extent=Extent("boundary"))["extent"]


@staff_only
@require_GET
def map_page(request):
    query = request.GET.copy()
    if "stage" not in query:
        query.setlist("stage", [OPEN])  # a live picture: open cases unless asked otherwise
    form = MapFilterForm(query)
    form.is_valid()
    vector = connection.vendor == "postgresql"
    config = {
        "mode": "mvt" if vector else "geojson",
        "tilesUrl": reverse("maps:tile", args=(0, 0, 0)).replace("/0/0/0.", "/{z}/{x}/{y}."),
        "featuresUrl": reverse("maps:features"),
        "heatUrl": reverse("maps:heat"),
        "versionUrl": reverse("maps:version"),
        "caseUrl": reverse("maps:case", args=(0,)),
        "gridsUrl": reverse("grids_api:grids"),
        "areasUrl": reverse("grids_api:areas"),
        "extent": map_extent(request.user),
        "base": base_layers(),
        "pointsZoom": queries.POINTS_ZOOM,
        "communityZoom": queries.COMMUNITY_ZOOM,
        "gridsZoom": 15,
        "pollSeconds": POLL_SECONDS,
        "maxFeatures": settings.MAP_MAX_FEATURES,
        "stages": dict(Stage.choices),
        "version": current_version(),
    }
    return render(
        request,
        "maps/map.html",
        {
            "form": form,
            "map_config": config,
            "stages": Stage.choices,
            "categories": category_choices(),
        },
    )


# ---------------------------------------------------------------------------- layers


def parse_zoom(request) -> int | JsonResponse:
    try:
        zoom = int(request.GET.get("zoom", ""))
    except ValueError:
        return error(_("Give the zoom as a whole number."), 400, "zoom")
    if not 0 <= zoom <= queries.MAX_ZOOM:
        return error(_("The zoom must be from 0 to %(max)d.") % {"max": queries.MAX_ZOOM}, 400)
    return zoom


def parse_bbox(request):
    try:
        west, south, east, north = (float(v) for v in request.GET.get("bbox", "").split(","))
    except ValueError:
        return error(_("Give bbox as west,south,east,north in degrees."), 400, "bbox")
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        return error(_("The bbox is not a box on the Earth."), 400, "bbox")
    return queries.box(west, south, east, north)


@staff_only
@require_GET
def tile(request, z: int, x: int, y: int):
    """A Mapbox vector tile: single cases ("cases" layer) from POINTS_ZOOM on, else areas
    with their case counts ("areas" layer). PostGIS only: elsewhere use the GeoJSON layer."""
    if connection.vendor != "postgresql":
        return error(_("Vector tiles need PostGIS; this map reads GeoJSON instead."), 404)
    if not queries.valid_tile(z, x, y):
        return error(_("There is no such tile."), 404)
    form = filters(request)
    if isinstance(form, JsonResponse):
        return form

    def build() -> bytes:
        cases = queries.map_cases(request.user, form, timezone.now())
        level = queries.aggregate_level(z)
        if level is None:
            bbox = queries.box(*queries.tile_bounds(z, x, y, queries.POINT_BUFFER / 4096))
            body, _count = queries.points_mvt(queries.tile_parts(cases, bbox), z, x, y)
            return body
        bbox = queries.box(*queries.tile_bounds(z, x, y))
        areas = queries.areas_in(level, bbox)
        counts = queries.counts_in(cases, form, level, areas, rollups is not None)
        body = queries.areas_mvt(counts, z, x, y) if counts else b""
        # Cases outside every community are in no area's count: they are drawn as
        # themselves at every zoom (two MVT messages joined are one tile with both layers).
        near = queries.box(*queries.tile_bounds(z, x, y, queries.POINT_BUFFER / 4096))
        outside, _count = queries.points_mvt([queries.outside_areas(cases, near)], z, x, y)
        return body + outside

    rollups = queries.rollups_for(request.user, form, z)
    return cached_layer(request, form, f"tile/{z}/{x}/{y}", build, MVT, rollups)


@staff_only
@require_GET
def features(request):
    """The same as the tiles, as GeoJSON for a bbox and zoom: areas with their counts
    below POINTS_ZOOM, single cases (at most MAP_MAX_FEATURES; ``left_out`` says how many
    more) from it on."""
    form = filters(request)
    if isinstance(form, JsonResponse):
        return form
    zoom, bbox = parse_zoom(request), parse_bbox(request)
    for answer in (zoom, bbox):
        if isinstance(answer, JsonResponse):
            return answer

    def build() -> bytes:
        cases = queries.map_cases(request.user, form, timezone.now())
        level = queries.aggregate_level(zoom)
        if level is None:
            collection = queries.points_geojson(queries.in_box(cases, bbox))
        else:
            areas = queries.areas_in(level, bbox)
            counts = queries.counts_in(cases, form, level, areas, rollups is not None)
            collection = queries.areas_geojson(counts, zoom)
            # Cases outside every community, in no area's count: as themselves.
            outside = queries.points_geojson(queries.outside_areas(cases, bbox))
            collection["features"] += outside["features"]
            collection["left_out"] = outside["left_out"]
        collection["level"] = level or "case"
        return json.dumps(collection, ensure_ascii=False).encode()

    rollups = queries.rollups_for(request.user, form, zoom)
    name = f"features/{zoom}/{','.join(f'{v:.6f}' for v in bbox.extent)}"
    return cached_layer(request, form, name, build, "application/json", rollups)


@staff_only
@require_GET
def heat(request):
    """Case density for the heat layer: [lat, lon, cases] per small cell in the bbox."""
    form = filters(request)
    if isinstance(form, JsonResponse):
        return form
    zoom, bbox = parse_zoom(request), parse_bbox(request)
    for answer in (zoom, bbox):
        if isinstance(answer, JsonResponse):
            return answer

    def build() -> bytes:
        cases = queries.in_box(queries.map_cases(request.user, form, timezone.now()), bbox)
        cells = queries.heat_cells(cases, zoom)
        most = max((cell[2] for cell in cells), default=0)
        return json.dumps({"cells": cells, "max": most}).encode()

    name = f"heat/{zoom}/{','.join(f'{v:.6f}' for v in bbox.extent)}"
    return cached_layer(request, form, name, build, "application/json")


@staff_only
@require_GET
def version(request):
    """Polled by open maps every few seconds: it changes after every committed change to
    a case, and then the map reloads its layers."""
    response = JsonResponse({"version": current_version()})
    response["Cache-Control"] = "no-store"
    return response


@staff_only
@require_GET
def case_summary(request, pk: int):
    """What the popup shows of one case; 404 for a case the viewer may not see."""
    case = get_case_for_user(request, pk)
    light = case.light()
    return JsonResponse(
        {
            "id": case.pk,
            "reference": case.reference,
            "category": f"{case.category.full_code} {case.category.display_name()}",
            "stage": case.stage,
            "stage_label": str(Stage(case.stage).label),
            "light": light,
            "urgency": case.get_urgency_display(),
            "department": str(case.department) if case.department else "",
            "grid": case.grid.code if case.grid else "",
            "address": case.address,
            "description": case.description[:140],
            "reported_at": timezone.localtime(case.reported_at).strftime("%Y-%m-%d %H:%M"),
            "deadline": (
                timezone.localtime(case.deadline).strftime("%Y-%m-%d %H:%M")
                if case.deadline
                else ""
            ),
            "url": reverse("cases:detail", args=(case.pk,)),
        }
    )
