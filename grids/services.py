"""Operations on the city's geography that span models or need geometry work."""

import datetime
import math

from django.conf import settings
from django.contrib.gis.gdal import CoordTransform, SpatialReference
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Point, Polygon
from django.db import transaction
from django.utils import timezone

from .models import Area, GridAssignment, UnitGrid

WGS84 = SpatialReference(4326)


class GridError(ValueError):
    """A request about grids that cannot be carried out, with a message for the person."""


def local_metric_srs(lon: float, lat: float) -> SpatialReference:
    """An equal-area projection centred on (lon, lat): metres, true areas nearby."""
    return SpatialReference(
        f"+proj=laea +lat_0={lat:.6f} +lon_0={lon:.6f} +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"
    )


def to_metric(geom: GEOSGeometry, srs: SpatialReference) -> GEOSGeometry:
    return geom.transform(CoordTransform(WGS84, srs), clone=True)


def to_wgs84(geom: GEOSGeometry, srs: SpatialReference) -> GEOSGeometry:
    result = geom.transform(CoordTransform(srs, WGS84), clone=True)
    result.srid = 4326
    return result


def area_m2(geom: GEOSGeometry) -> float:
    """Area in square metres of a WGS84 geometry."""
    centre = geom.centroid
    return to_metric(geom, local_metric_srs(centre.x, centre.y)).area


def polygonal(geom: GEOSGeometry) -> MultiPolygon | None:
    """The polygon parts of a GEOS result (an intersection may add lines and points)."""
    if geom.empty:
        return None
    if geom.geom_type == "Polygon":
        parts = [geom]
    elif geom.geom_type in ("MultiPolygon", "GeometryCollection"):
        parts = []
        for part in geom:
            sub = polygonal(part)
            if sub is not None:
                parts.extend(sub)
    else:
        return None
    parts = [p for p in parts if not p.empty and p.area > 0]
    if not parts:
        return None
    return MultiPolygon(parts, srid=geom.srid)


def grid_code(community_code: str, sequence: int, digits: int) -> str:
    if sequence >= 10**digits:
        raise GridError(
            f"Community {community_code} would need grid number {sequence}, more than "
            f"{digits} digits allow; use larger cells or {digits + 1}-digit numbers."
        )
    return f"{community_code}{sequence:0{digits}d}"


def grids_generate(
    *,
    community: Area,
    cell_size: float = 100.0,
    digits: int | None = None,
    valid_from: datetime.date | None = None,
    sliver_fraction: float = 0.05,
    land_use: str = UnitGrid.LandUse.MIXED,
) -> list[UnitGrid]:
    """Cover ``community`` with square cells of ``cell_size`` metres, clipped to it.

    Cells are numbered west to east, then north to south, from 1 (the standard's order).
    A clipped piece smaller than ``sliver_fraction`` of a cell joins the neighbour it
    shares the longest edge with, so no grid is a few square metres of pavement. Current
    grids of the community are closed the day before ``valid_from`` and kept as history.
    """
    if community.level != Area.Level.COMMUNITY:
        raise GridError(f"{community} is not a community: unit grids belong to communities.")
    if cell_size < 10:
        raise GridError("Cells must be at least 10 m across.")
    digits = digits or settings.GRID_SEQUENCE_DIGITS
    valid_from = valid_from or timezone.localdate()

    centre = community.boundary.centroid
    srs = local_metric_srs(centre.x, centre.y)
    shape = to_metric(community.boundary, srs)
    xmin, ymin, xmax, ymax = shape.extent
    columns = max(1, math.ceil((xmax - xmin) / cell_size))
    rows = max(1, math.ceil((ymax - ymin) / cell_size))
    prepared = shape.prepared

    pieces: dict[tuple[int, int], GEOSGeometry] = {}
    for row in range(rows):  # north to south
        top = ymax - row * cell_size
        for column in range(columns):  # west to east
            left = xmin + column * cell_size
            cell = Polygon.from_bbox((left, top - cell_size, left + cell_size, top))
            if not prepared.intersects(cell):
                continue
            piece = polygonal(shape.intersection(cell))
            if piece is not None:
                pieces[(row, column)] = piece

    minimum = sliver_fraction * cell_size * cell_size
    for key in sorted(pieces, key=lambda k: pieces[k].area):
        piece = pieces[key]
        if piece.area >= minimum:
            break
        row, column = key
        neighbours = [
            (piece.intersection(pieces[n]).length, n)
            for n in ((row - 1, column), (row + 1, column), (row, column - 1), (row, column + 1))
            if n in pieces
        ]
        neighbours = [(length, n) for length, n in neighbours if length > 0]
        if neighbours:
            _, target = max(neighbours)
            pieces[target] = polygonal(pieces[target].union(piece)) or pieces[target]
            del pieces[key]

    grids = []
    for sequence, key in enumerate(sorted(pieces), start=1):
        piece = pieces[key]
        boundary = to_wgs84(piece, srs)
        grids.append(
            UnitGrid(
                code=grid_code(community.code, sequence, digits),
                community=community,
                boundary=boundary
                if boundary.geom_type == "MultiPolygon"
                else MultiPolygon(boundary),
                area_m2=piece.area,
                land_use=land_use,
                valid_from=valid_from,
            )
        )
    with transaction.atomic():
        grids_retire(UnitGrid.objects.filter(community=community).current(), valid_from)
        UnitGrid.objects.bulk_create(grids)
    return grids


def grids_retire(grids, day: datetime.date) -> int:
    """Close current grids so that ``day`` is their first day out of force; they stay as
    history, and their workers' assignments end with them."""
    grids = list(grids.filter(valid_to__isnull=True))
    for grid in grids:
        if grid.valid_from >= day:
            raise GridError(
                f"Grid {grid.code} only came into force on {grid.valid_from}; "
                f"a replacement must start after that."
            )
    ids = [grid.pk for grid in grids]
    GridAssignment.objects.filter(grid_id__in=ids, end__isnull=True).update(end=day)
    return UnitGrid.objects.filter(pk__in=ids).update(valid_to=day)


def grid_neighbours(grid: UnitGrid):
    """Current grids that share an edge or a corner with ``grid``."""
    return (
        UnitGrid.objects.current()
        .filter(boundary__intersects=grid.boundary)
        .exclude(pk=grid.pk)
        .exclude(code=grid.code)
        .order_by("code")
    )


def within_metres(queryset, field: str, point: Point, metres: float) -> list[tuple[object, float]]:
    """Rows of ``queryset`` whose ``field`` lies within ``metres`` of ``point``, nearest
    first, with the distance in metres.

    The database narrows by a bounding box in degrees (indexed on both backends); the exact
    distance is measured in a projection centred on the point.
    """
    if point.srid is None:
        point = Point(point.x, point.y, srid=4326)
    dlat = metres / 111_320
    dlon = metres / (111_320 * max(0.01, math.cos(math.radians(point.y))))
    window = Polygon.from_bbox((point.x - dlon, point.y - dlat, point.x + dlon, point.y + dlat))
    window.srid = 4326
    srs = local_metric_srs(point.x, point.y)
    origin = to_metric(point, srs)
    found = []
    for row in queryset.filter(**{f"{field}__bboverlaps": window}):
        distance = to_metric(getattr(row, field), srs).distance(origin)
        if distance <= metres:
            found.append((row, distance))
    return sorted(found, key=lambda item: (item[1], item[0].pk))


def grids_near(point: Point, metres: float) -> list[tuple[UnitGrid, float]]:
    """Current grids within ``metres`` of ``point``, nearest first, with their distance."""
    return within_metres(UnitGrid.objects.current(), "boundary", point, metres)
