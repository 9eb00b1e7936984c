"""Point-to-grid lookups: grids.models.locate() against raw SQL on the same PostGIS server.

About 100,000 square unit grids of ~100 m (316 x 316) in one synthetic community, and
10,000 random points inside them. Measured in the same run, each after a warm-up:

* raw per-point SQL: psycopg 3, a server-side prepared statement, one query per point,
  with locate()'s semantics (valid today, lowest code on a shared edge): the floor;
* the Django function ``locate()``, one point at a time;
* set-based: one statement for all points (unnest + LATERAL), raw and through
  ``locate_many()`` (the median of 3).

The per-point methods take turns over chunks of 1,000 points, so that drift in the
machine's speed during the run affects both alike.
"""

import datetime
import math
import random
import statistics
import time

import psycopg
from django.contrib.gis.geos import MultiPolygon, Point, Polygon
from django.db import connection, transaction

from bench import report
from grids.models import Area, Location, UnitGrid, locate, locate_many

# The grid: 316 x 316 cells of 0.0011711 deg x 0.000901 deg (about 100 m x 100 m at 39.9 N).
COLUMNS = ROWS = 316
CELLS = COLUMNS * ROWS
# Away from the demo district (Dongcheng, about 116.39-116.45 E), which make run and the
# other benchmarks load into the same database.
X0, Y0 = 117.30, 38.90
DX, DY = 0.0011711, 0.000901
X1, Y1 = X0 + COLUMNS * DX, Y0 + ROWS * DY
POINTS = 10_000
WARM_UP = 500
CHUNK = 1_000  # points per turn when raw and locate() take turns
SET_REPEAT = 3  # set-based statements: the median of this many
SEED = 20_260_301

# Synthetic codes ("99" is no province in GB/T 2260). Grid codes are at most 15 characters
# and 99,856 grids do not fit the usual 3-digit sequence, so they are the 9-digit street
# code and a 6-digit sequence, numbered west to east, then north to south.
DISTRICT, STREET, COMMUNITY = "999901", "999901001", "999901001001"
VALID_FROM = datetime.date(2020, 1, 1)

VALID_TODAY = "valid_from <= current_date AND (valid_to IS NULL OR valid_to > current_date)"
RAW_ONE = (
    "SELECT id FROM grids_unitgrid"
    " WHERE ST_Intersects(boundary, ST_SetSRID(ST_MakePoint(%s, %s), 4326))"
    f" AND {VALID_TODAY} ORDER BY code LIMIT 1"
)
RAW_SET = (
    "SELECT p.i, g.id FROM unnest(%s::float8[], %s::float8[]) WITH ORDINALITY AS p(x, y, i)"
    " LEFT JOIN LATERAL (SELECT id FROM grids_unitgrid"
    "  WHERE ST_Intersects(boundary, ST_SetSRID(ST_MakePoint(p.x, p.y), 4326))"
    f"  AND {VALID_TODAY} ORDER BY code LIMIT 1) g ON true"
    " ORDER BY p.i"
)
# Untimed check: the points that are not in exactly one current grid (there should be none).
RAW_COUNT = (
    "SELECT p.i, count(g.id)"
    " FROM unnest(%s::float8[], %s::float8[]) WITH ORDINALITY AS p(x, y, i)"
    " LEFT JOIN grids_unitgrid g"
    "  ON ST_Intersects(g.boundary, ST_SetSRID(ST_MakePoint(p.x, p.y), 4326))"
    "  AND g.valid_from <= current_date AND (g.valid_to IS NULL OR g.valid_to > current_date)"
    " GROUP BY p.i HAVING count(g.id) <> 1 ORDER BY p.i"
)


def envelope(xmin: float, ymin: float, xmax: float, ymax: float) -> MultiPolygon:
    return MultiPolygon(Polygon.from_bbox((xmin, ymin, xmax, ymax)), srid=4326)


def build_grids() -> tuple[Area, str]:
    """One district > street > community over the extent and its 99,856 current grids."""
    district, _ = Area.objects.get_or_create(
        code=DISTRICT,
        defaults={
            "name": "基准区",
            "level": Area.Level.DISTRICT,
            "boundary": envelope(X0, Y0, X1, Y1),
        },
    )
    street, _ = Area.objects.get_or_create(
        code=STREET,
        defaults={
            "name": "基准街道",
            "level": Area.Level.STREET,
            "parent": district,
            "boundary": envelope(X0, Y0, X1, Y1),
        },
    )
    community, _ = Area.objects.get_or_create(
        code=COMMUNITY,
        defaults={
            "name": "基准社区",
            "level": Area.Level.COMMUNITY,
            "parent": street,
            "boundary": envelope(X0, Y0, X1, Y1),
        },
    )
    current = UnitGrid.objects.filter(community=community).current()
    in_place = (
        abs(community.boundary.extent[0] - X0) < 1e-9
        and abs(community.boundary.extent[1] - Y0) < 1e-9
    )
    if current.count() == CELLS and in_place:
        return community, f"reused {CELLS:,} grids"
    if not in_place:
        # An earlier run built the grid elsewhere: move the three areas over the new extent.
        Area.objects.filter(pk__in=[district.pk, street.pk, community.pk]).update(
            boundary=envelope(X0, Y0, X1, Y1)
        )
    begin = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM grids_gridassignment WHERE grid_id IN"
            " (SELECT id FROM grids_unitgrid WHERE community_id = %s)",
            [community.pk],
        )
        cursor.execute("DELETE FROM grids_unitgrid WHERE community_id = %s", [community.pk])
        # Row r counts from the north, column c from the west; cell (c, iy) spans
        # [X0 + c*DX, X0 + (c+1)*DX] x [Y0 + iy*DY, Y0 + (iy+1)*DY] with iy = ROWS-1-r.
        cursor.execute(
            "INSERT INTO grids_unitgrid"
            " (code, community_id, boundary, area_m2, land_use, management_level,"
            "  valid_from, valid_to)"
            " SELECT %(prefix)s || lpad((r * %(columns)s + c + 1)::text, 6, '0'), %(community)s,"
            "  cell, ST_Area(cell::geography), 'mixed', 2, %(valid_from)s, NULL"
            " FROM generate_series(0, %(rows)s - 1) AS r, generate_series(0, %(columns)s - 1) AS c,"
            "  LATERAL (SELECT ST_Multi(ST_MakeEnvelope("
            "   %(x0)s + c * %(dx)s, %(y0)s + (%(rows)s - 1 - r) * %(dy)s,"
            "   %(x0)s + (c + 1) * %(dx)s, %(y0)s + (%(rows)s - r) * %(dy)s, 4326)) AS cell) AS e",
            {
                "prefix": STREET,
                "columns": COLUMNS,
                "rows": ROWS,
                "community": community.pk,
                "valid_from": VALID_FROM,
                "x0": X0,
                "y0": Y0,
                "dx": DX,
                "dy": DY,
            },
        )
        inserted = cursor.rowcount
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE grids_area")
        cursor.execute("ANALYZE grids_unitgrid")
    return community, f"built {inserted:,} grids in {time.perf_counter() - begin:.1f} s"


def gist_index() -> str | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
            " AND tablename = 'grids_unitgrid' AND indexdef ILIKE '%%USING gist (boundary)%%'"
        )
        row = cursor.fetchone()
    return row[0] if row else None


def expected_code(x: float, y: float) -> str:
    """The cell a point falls in, by arithmetic on the regular grid."""
    column = math.floor((x - X0) / DX)
    row = ROWS - 1 - math.floor((y - Y0) / DY)
    return f"{STREET}{row * COLUMNS + column + 1:06d}"


def raw_connection() -> psycopg.Connection:
    """A plain psycopg connection with the Django connection's own parameters."""
    settings = connection.settings_dict
    return psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"] or None,
        password=settings["PASSWORD"] or None,
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        autocommit=True,
    )


def run() -> None:
    if connection.vendor != "postgresql":
        print(
            "point-to-grid lookups: skipped, needs PostGIS (DATABASE_URL=postgis://...);"
            f" this run is on {connection.vendor}\n"
        )
        return
    community, how = build_grids()
    index = gist_index()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM grids_unitgrid WHERE community_id <> %s AND "
            + VALID_TODAY
            + " AND boundary && ST_MakeEnvelope(%s, %s, %s, %s, 4326)",
            [community.pk, X0, Y0, X1, Y1],
        )
        foreign = cursor.fetchone()[0]
        cursor.execute("SELECT current_setting('jit'), current_setting('server_version')")
        jit, version = cursor.fetchone()
    print(
        f"data: {how}; GiST index on grids_unitgrid.boundary: {index or 'MISSING'}; "
        f"other current grids in the extent: {foreign}; PostgreSQL {version}, jit={jit}"
    )
    assert index, "no GiST index on grids_unitgrid.boundary"

    rng = random.Random(SEED)
    xs = [rng.uniform(X0, X1) for _ in range(POINTS)]
    ys = [rng.uniform(Y0, Y1) for _ in range(POINTS)]
    points = [Point(x, y, srid=4326) for x, y in zip(xs, ys, strict=True)]
    warm = random.Random(SEED + 1)
    warm_xy = [(warm.uniform(X0, X1), warm.uniform(Y0, Y1)) for _ in range(WARM_UP)]
    warm_points = [Point(x, y, srid=4326) for x, y in warm_xy]

    raw_ids: list[int | None] = [None] * POINTS
    found: list[Location | None] = [None] * POINTS

    with raw_connection() as raw, raw.cursor() as cur:

        def raw_one_by_one(begin: int, end: int) -> float:
            """a) raw SQL, one prepared statement per point."""
            started = time.perf_counter()
            for i in range(begin, end):
                cur.execute(RAW_ONE, (xs[i], ys[i]), prepare=True)
                row = cur.fetchone()
                raw_ids[i] = row[0] if row else None
            return time.perf_counter() - started

        def django_one_by_one(begin: int, end: int) -> float:
            """b) the Django function, one point at a time."""
            started = time.perf_counter()
            for i in range(begin, end):
                found[i] = locate(points[i])
            return time.perf_counter() - started

        for x, y in warm_xy:
            cur.execute(RAW_ONE, (x, y), prepare=True)
            cur.fetchone()
        for point in warm_points:
            locate(point)
        # The VM's round-trip speed drifts within seconds, so the two take turns over
        # chunks of the same points (each going first half the time) and add up.
        raw_seconds = django_seconds = 0.0
        for n, begin in enumerate(range(0, POINTS, CHUNK)):
            end = min(begin + CHUNK, POINTS)
            if n % 2:
                django_seconds += django_one_by_one(begin, end)
                raw_seconds += raw_one_by_one(begin, end)
            else:
                raw_seconds += raw_one_by_one(begin, end)
                django_seconds += django_one_by_one(begin, end)
        raw_rate = POINTS / raw_seconds
        django_rate = POINTS / django_seconds
        django_ids = [where.grid.pk if where and where.grid else None for where in found]

        # c) set-based: one raw statement for all points, and locate_many()
        cur.execute(RAW_SET, ([x for x, _ in warm_xy], [y for _, y in warm_xy]))
        cur.fetchall()
        locate_many(warm_points)
        set_seconds, many_seconds = [], []
        for _ in range(SET_REPEAT):
            started = time.perf_counter()
            cur.execute(RAW_SET, (xs, ys))
            set_rows = cur.fetchall()
            set_seconds.append(time.perf_counter() - started)
            started = time.perf_counter()
            many = locate_many(points)
            many_seconds.append(time.perf_counter() - started)
        set_rate = POINTS / statistics.median(set_seconds)
        many_rate = POINTS / statistics.median(many_seconds)
        set_ids = [grid_id for _, grid_id in set_rows]
        many_ids = [where.grid.pk if where.grid else None for where in many]

        cur.execute(RAW_COUNT, (xs, ys))
        not_one = cur.fetchall()

    # Correctness, before any figure is trusted.
    problems = []
    if not_one:
        problems.append(f"{len(not_one)} points not in exactly one grid, e.g. {not_one[:5]}")
    for name, ids in (("raw", raw_ids), ("locate()", django_ids)):
        missing = [i for i, grid_id in enumerate(ids) if grid_id is None]
        if missing:
            problems.append(f"{name}: {len(missing)} points found no grid, e.g. {missing[:5]}")
    for name, ids in (("locate()", django_ids), ("set SQL", set_ids), ("locate_many()", many_ids)):
        mismatches = [
            (i, a, b) for i, (a, b) in enumerate(zip(raw_ids, ids, strict=True)) if a != b
        ]
        if mismatches:
            problems.append(f"raw vs {name}: {len(mismatches)} differ, e.g. {mismatches[:5]}")
    if not foreign:
        wrong = [
            (i, where.grid.code, expected_code(x, y))
            for i, (where, x, y) in enumerate(zip(found, xs, ys, strict=True))
            if where and where.grid and where.grid.code != expected_code(x, y)
        ]
        if wrong:
            problems.append(f"{len(wrong)} points not in their arithmetic cell, e.g. {wrong[:5]}")
    for problem in problems:
        print(f"  MISMATCH {problem}")
    assert not problems, "point-to-grid lookups disagree"
    print(
        f"checked: all {POINTS:,} points in exactly one grid; raw, locate(), set SQL and "
        "locate_many() agree on every grid id"
    )

    report(
        f"point-to-grid lookups, {POINTS:,} random points over {CELLS:,} unit grids (PostGIS)",
        goal="Django locate() >= 30% of raw per-point SQL rate",
        figure=(
            f"locate() one by one {django_rate:,.0f}/s ({django_rate / raw_rate:.0%} of raw); "
            f"set-based: raw SQL {set_rate:,.0f}/s, locate_many() {many_rate:,.0f}/s"
        ),
        floor=f"raw per-point SQL (psycopg, prepared) {raw_rate:,.0f}/s",
        ok=django_rate >= 0.3 * raw_rate,
    )
