"""What the map shows: the caller's cases under the filters, their traffic light, counts
per area at low zoom, and the SQL that turns them into Mapbox vector tiles on PostGIS.

Every layer (vector tiles, GeoJSON, heat) starts from ``map_cases()``: the scope is
``Case.objects.visible_to`` itself, compiled into each query, so the map can never show a
case its viewer could not open.
"""

import hashlib
import json
import math
from dataclasses import dataclass

from django.conf import settings
from django.contrib.gis.geos import Polygon
from django.db import connection
from django.db.models import Count, F, FloatField, Func, Q, QuerySet, Sum
from django.db.models.expressions import RawSQL
from django.db.models.functions import Floor

from cases.models import OPEN_STAGES, Case, Category, light_expression, sees_every_case
from grids.models import Area
from grids.serializers import boundary_geojson
from stats.models import COMMUNITY, STREET, CategoryDay, DailyFact, RollupState

# From this zoom on the map shows single cases; below it counts per community, and below
# COMMUNITY_ZOOM counts per street.
POINTS_ZOOM = 14
COMMUNITY_ZOOM = 12
MAX_ZOOM = 20
TILE_EXTENT = 4096
# Room around a tile, in tile units, so that a point symbol on an edge is drawn whole.
POINT_BUFFER = 64
AREA_BUFFER = 16
# The heat layer sums cases into square cells of about this many screen pixels.
HEAT_CELL_PX = 12
LIGHTS = ("green", "yellow", "red")


def case_light(now):
    """The traffic light of a case, in SQL: the product's one definition
    (``cases.models.light_expression``: green before the whole-case clock's 80 % moment,
    yellow to its deadline, red past it, NULL when no clock runs). The "overdue" filter is
    light = red."""
    return light_expression(now)


def category_ids(code: str) -> list[int]:
    """The ids of the category with this full code and every category under it."""
    return list(Category.objects.filter(full_code__startswith=code).values_list("id", flat=True))


def map_cases(user, form, now) -> QuerySet:
    """The cases ``user`` may see that pass the filters of a valid ``MapFilterForm``,
    each annotated with its ``light``."""
    cases = Case.objects.visible_to(user).order_by().annotate(light=case_light(now))
    data = form.cleaned_data
    stages = form.stages()
    if stages:
        cases = cases.filter(stage__in=stages)
    if data.get("category"):
        cases = cases.filter(category_id__in=category_ids(data["category"]))
    if data.get("department"):
        cases = cases.filter(department=data["department"])
    if data.get("source"):
        cases = cases.filter(source=data["source"])
    start, end = form.period()
    if start:
        cases = cases.filter(reported_at__gte=start)
    if end:
        cases = cases.filter(reported_at__lt=end)
    if data.get("overdue"):
        cases = cases.filter(light="red")
    return cases


def scope_key(user) -> str:
    """A short key for what ``user`` may see: the text of the scope's own SQL, so people
    who see the same cases (every supervisor, say) share cached tiles and people who see
    different ones never do, whatever ``visible_to`` decides."""
    sql, params = Case.objects.visible_to(user).values("pk").query.sql_with_params()
    return hashlib.sha256(f"{sql}|{params!r}".encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------- space


def tile_bounds(z: int, x: int, y: int, buffer: float = 0.0) -> tuple[float, ...]:
    """West, south, east, north (WGS84) of XYZ tile z/x/y, widened by ``buffer`` tile
    widths on each side."""
    n = 2**z

    def lon(tx: float) -> float:
        return tx / n * 360.0 - 180.0

    def lat(ty: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * ty / n))))

    return (
        lon(x - buffer),
        max(lat(y + 1 + buffer), -85.06),
        lon(x + 1 + buffer),
        min(lat(y - buffer), 85.06),
    )


def valid_tile(z: int, x: int, y: int) -> bool:
    return 0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z


def box(west: float, south: float, east: float, north: float) -> Polygon:
    return Polygon.from_bbox((west, south, east, north))


def in_box(cases: QuerySet, bbox: Polygon) -> QuerySet:
    """Cases whose point lies in ``bbox`` (WGS84), through the spatial index."""
    bbox.srid = 4326
    if connection.vendor == "sqlite":
        # SpatiaLite reads its R*Tree only when asked (as grids.api.meeting_bbox does).
        west, south, east, north = bbox.extent
        return cases.filter(
            id__in=RawSQL(
                f'SELECT pkid FROM "idx_{Case._meta.db_table}_point"'
                " WHERE xmin <= %s AND xmax >= %s AND ymin <= %s AND ymax >= %s",
                (east, west, north, south),
            )
        )
    return cases.filter(point__bboverlaps=bbox)


def outside_areas(cases: QuerySet, bbox: Polygon) -> QuerySet:
    """The cases in ``bbox`` outside every community (no grid covers them: the dispatch
    desk triages them), which no area's count holds."""
    return in_box(cases.filter(community__isnull=True), bbox)


def aggregate_level(zoom: int) -> str | None:
    """Which areas cases are counted by at this zoom; None: show single cases."""
    if zoom >= POINTS_ZOOM:
        return None
    return Area.Level.COMMUNITY if zoom >= COMMUNITY_ZOOM else Area.Level.STREET


@dataclass
class AreaCount:
    n: int = 0
    red: int = 0
    yellow: int = 0


def areas_in(level: str, bbox: Polygon) -> list[int]:
    bbox.srid = 4326
    return list(
        Area.objects.filter(level=level, boundary__bboverlaps=bbox)
        .order_by("code")
        .values_list("id", flat=True)
    )


def area_counts(cases: QuerySet, level: str, area_ids: list[int]) -> dict[int, AreaCount]:
    """Cases per area of ``level`` among ``area_ids``, with how many are red and yellow.
    Every area asked for is in the answer, with zeros when it holds no case."""
    column = f"{level}_id"
    rows = (
        cases.filter(**{f"{column}__in": area_ids})
        .values(column)
        .annotate(
            n=Count("pk"),
            red=Count("pk", filter=Q(light="red")),
            yellow=Count("pk", filter=Q(light="yellow")),
        )
        .order_by()
    )
    counts = {pk: AreaCount() for pk in area_ids}
    for row in rows:
        counts[row[column]] = AreaCount(row["n"], row["red"], row["yellow"])
    return counts


# Counts of every case per area, whatever its stage, come from the dashboard's roll-ups
# (cases reported per day, place, department and category) rather than from counting up
# to a million case rows per tile: for viewers who may see every case, and filters the
# roll-ups hold (category, department, reporting period). Red and yellow, which only open
# cases can be, are counted live from the open cases' index. The roll-ups follow the
# cases within seconds (stats.rollup.catch_up).
ROLLUP_LEVELS = {Area.Level.STREET: "street", Area.Level.COMMUNITY: "community"}
STATS_LEVELS = {"street": STREET, "community": COMMUNITY}


def rollups_for(user, form, zoom: int) -> int | None:
    """The roll-ups' version when the area counts at ``zoom`` for this viewer and these
    filters come from them (it goes into the layer's cache key), else None."""
    data = form.cleaned_data
    if (
        aggregate_level(zoom) is None
        or not sees_every_case(user)
        or form.stages()
        or data.get("source")
        or data.get("overdue")
    ):
        return None
    return (
        RollupState.objects.filter(pk=1, high_water__gt=0).values_list("version", flat=True).first()
    )


def counts_in(cases: QuerySet, form, level: str, area_ids: list[int], rolled: bool):
    """The counts per area a layer shows: from the roll-ups (``rollups_for``) or live."""
    if rolled:
        return rolled_area_counts(cases, form, level, area_ids)
    return area_counts(cases, level, area_ids)


def rolled_area_counts(
    cases: QuerySet, form, level: str, area_ids: list[int]
) -> dict[int, AreaCount]:
    """``area_counts`` for every stage, the totals read from the roll-ups (see above);
    ``cases``: the viewer's filtered cases, whose open ones give red and yellow."""
    data = form.cleaned_data
    field = ROLLUP_LEVELS[level]
    if data.get("category"):
        rows = CategoryDay.objects.filter(category__in=category_ids(data["category"]))
    else:
        rows = DailyFact.objects.all()
    rows = rows.filter(level=STATS_LEVELS[field], **{f"{field}__in": area_ids})
    if data.get("department"):
        rows = rows.filter(department=data["department"].pk)
    if data.get("since"):
        rows = rows.filter(day__gte=data["since"])
    if data.get("until"):
        rows = rows.filter(day__lte=data["until"])
    totals = dict(rows.values(field).order_by().annotate(n=Sum("reported")).values_list(field, "n"))
    lights = area_counts(cases.filter(stage__in=OPEN_STAGES), level, area_ids)
    return {
        pk: AreaCount(totals.get(pk) or 0, lights[pk].red, lights[pk].yellow) for pk in area_ids
    }


POINT_FIELDS = ("id", "number", "stage", "light", "urgency", "supervision")


def point_rows(cases: QuerySet) -> QuerySet:
    return cases.values(*POINT_FIELDS, "point")


def heat_cells(cases: QuerySet, zoom: int) -> list[list[float]]:
    """[lat, lon, cases] per square cell of about HEAT_CELL_PX pixels at ``zoom``."""
    size = 360.0 / (256 * 2**zoom) * HEAT_CELL_PX
    x = Func(F("point"), function="ST_X", output_field=FloatField())
    y = Func(F("point"), function="ST_Y", output_field=FloatField())
    rows = (
        cases.annotate(cx=Floor(x / size), cy=Floor(y / size))
        .values("cx", "cy")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return [
        [round((row["cy"] + 0.5) * size, 6), round((row["cx"] + 0.5) * size, 6), row["n"]]
        for row in rows
    ]


# ---------------------------------------------------------------------------- vector tiles

# The case id travels as a property rather than as the MVT feature id: Leaflet.VectorGrid
# hands a clicked feature's properties to the page, not its id.
POINTS_MVT_SQL = """
SELECT ST_AsMVT(q, 'cases', {extent}, 'geom'), count(*) FROM (
    SELECT c.id, c.number, c.stage, c.light, c.urgency, c.supervision,
           ST_AsMVTGeom(ST_Transform(c.point, 3857), ST_TileEnvelope(%s, %s, %s),
                        {extent}, {buffer}, true) AS geom
    FROM ({cases}) c
) q
"""

AREAS_MVT_SQL = """
SELECT ST_AsMVT(q, 'areas', {extent}, 'geom') FROM (
    SELECT a.id, a.code, a.name, a.level, k.n, k.red, k.yellow,
           ST_AsMVTGeom(ST_Transform(a.boundary, 3857), ST_TileEnvelope(%s, %s, %s),
                        {extent}, {buffer}, true) AS geom
    FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[]) AS k(id, n, red, yellow)
    JOIN {areas} a ON a.id = k.id
) q
"""


def tile_parts(cases: QuerySet, bbox: Polygon) -> list[QuerySet]:
    """The cases in ``bbox`` (PostGIS), asked in two parts whose union is exact: those of
    the communities that meet the box, and those outside every community.

    The first part names the streets and communities, so that PostgreSQL can answer it
    from maps_case_open_areas alone (an index-only scan over the open cases of a few
    communities, migrations 0003 and 0004) rather than fetch a table page for each case that the
    spatial index finds, which is most of a tile's cost at a million cases."""
    bbox.srid = 4326
    meeting = Area.objects.filter(level=Area.Level.COMMUNITY, boundary__bboverlaps=bbox)
    pairs = list(meeting.values_list("id", "parent_id"))
    communities = [pk for pk, _street in pairs]
    streets = sorted({street for _pk, street in pairs if street is not None})
    covered = cases.filter(street_id__in=streets, community_id__in=communities)
    uncovered = cases.filter(community__isnull=True)
    return [in_box(part, bbox) for part in (covered, uncovered) if communities or part is uncovered]


def points_mvt_sql(parts: list[QuerySet], z: int, x: int, y: int) -> tuple[str, list]:
    """One statement: the cases of the tile as an MVT layer "cases", and how many.
    ``parts`` are querysets already limited to the tile's (buffered) box."""
    selects, params = [], []
    for part in parts:
        sql, part_params = point_rows(part).query.sql_with_params()
        selects.append(f"({sql})")
        params.extend(part_params)
    cases = f"{' UNION ALL '.join(selects)} LIMIT {int(settings.MAP_MAX_FEATURES)}"
    statement = POINTS_MVT_SQL.format(extent=TILE_EXTENT, buffer=POINT_BUFFER, cases=cases)
    return statement, [z, x, y, *params]


def points_mvt(parts: list[QuerySet], z: int, x: int, y: int) -> tuple[bytes, int]:
    statement, params = points_mvt_sql(parts, z, x, y)
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        tile, count = cursor.fetchone()
    return bytes(tile or b""), count


def areas_mvt(counts: dict[int, AreaCount], z: int, x: int, y: int) -> bytes:
    ids = list(counts)
    statement = AREAS_MVT_SQL.format(
        extent=TILE_EXTENT, buffer=AREA_BUFFER, areas=Area._meta.db_table
    )
    params = [
        z,
        x,
        y,
        ids,
        [counts[i].n for i in ids],
        [counts[i].red for i in ids],
        [counts[i].yellow for i in ids],
    ]
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        (tile,) = cursor.fetchone()
    return bytes(tile or b"")


# ---------------------------------------------------------------------------- GeoJSON


def points_geojson(cases: QuerySet) -> dict:
    cap = settings.MAP_MAX_FEATURES
    rows = list(point_rows(cases)[: cap + 1])
    left_out = 0
    if len(rows) > cap:
        left_out = cases.count() - cap
        rows = rows[:cap]
    features = []
    for row in rows:
        point = row.pop("point")
        features.append(
            {
                "type": "Feature",
                "id": row["id"],
                "geometry": {"type": "Point", "coordinates": [point.x, point.y]},
                "properties": row,
            }
        )
    return {"type": "FeatureCollection", "features": features, "left_out": left_out}


def areas_geojson(counts: dict[int, AreaCount], zoom: int) -> dict:
    areas = (
        Area.objects.filter(pk__in=list(counts))
        .order_by("code")
        .values("id", "code", "name", "level")
        .annotate(geojson=boundary_geojson(zoom))
    )
    features = []
    for area in areas:
        count = counts[area["id"]]
        features.append(
            {
                "type": "Feature",
                "id": area["id"],
                "geometry": json.loads(area.pop("geojson")),
                "properties": {**area, "n": count.n, "red": count.red, "yellow": count.yellow},
            }
        )
    return {"type": "FeatureCollection", "features": features, "left_out": 0}
