"""The shared case map over 1,000,000 generated cases (PostGIS): vector tiles through the
Django view (test Client, in-process), over every tile that covers the demo district
(Dongcheng, where the generator places its cases).

For each scenario: the view cold (the tile cache emptied before each request, so the tile
is built: scope, filters, the SQL, the response) and cached (the same request again), next
to the floor measured in the same run: the bare statement that builds the tile (ST_AsMVT
over ST_AsMVTGeom with the same filters and scope, sent on a cursor), a bare view, and the
signed-in version view (session, person, roles, version: what any map request pays).

What the figures rest on: open cases (the page's default) are read through two partial
indexes of maps' migrations, a spatial one and a covering one that makes both the counts per
area and the zoom-14 points index-only scans. Filters reaching past open cases (every stage
of a month, every case ever) read the table itself; counting a million cases per view is
the job of the roll-ups the dashboard keeps, not of a query per tile.
"""

import math
import time

from django.core.cache import cache
from django.db import connection
from django.db.models import Max
from django.http import QueryDict
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bench import median_ms, percentile, report
from bench.bench_cases import ensure_stored
from cases.models import Case, CaseEvent
from governance.db import custom_plans
from grids.models import Area
from maps import queries
from maps.forms import MapFilterForm
from maps.models import current_version
from org.models import Role, User
from stats import rollup
from stats.models import RollupState

ROUNDS = 3
POINTS_GOAL_MS = 50
AGGREGATE_GOAL_MS = 100
DISTRICT = "110101"


def tiles_over_district(z: int) -> list[tuple[int, int]]:
    """Every tile at zoom z that meets the demo district's box."""
    west, south, east, north = Area.objects.get(code=DISTRICT).boundary.extent
    n = 2**z

    def tx(lon: float) -> int:
        return int((lon + 180) / 360 * n)

    def ty(lat: float) -> int:
        rad = math.radians(lat)
        return int((1 - math.log(math.tan(rad) + 1 / math.cos(rad)) / math.pi) / 2 * n)

    return [(x, y) for x in range(tx(west), tx(east) + 1) for y in range(ty(north), ty(south) + 1)]


def person(role: str) -> User:
    return (
        User.objects.filter(is_active=True, role_grants__role=role)
        .exclude(role_grants__role__in=[Role.SUPERVISOR] if role != Role.SUPERVISOR else [])
        .order_by("username")
        .first()
    )


def bare_statement(user, query: str, z: int, x: int, y: int):
    """The statement(s) the view sends to build the tile, to run on a bare cursor."""
    form = MapFilterForm(QueryDict(query))
    assert form.is_valid(), form.errors
    cases = queries.map_cases(user, form, timezone.now())
    level = queries.aggregate_level(z)
    if level is None:
        bbox = queries.box(*queries.tile_bounds(z, x, y, queries.POINT_BUFFER / 4096))
        return lambda: queries.points_mvt(queries.tile_parts(cases, bbox), z, x, y)
    bbox = queries.box(*queries.tile_bounds(z, x, y))

    def both():
        counts = queries.area_counts(cases, level, queries.areas_in(level, bbox))
        return queries.areas_mvt(counts, z, x, y)

    return both


def scenario(name: str, user, z: int, query: str, goal_ms: float, judged: bool) -> None:
    tiles = tiles_over_district(z)
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    urls = [reverse("maps:tile", args=(z, x, y)) + "?" + query for x, y in tiles]
    # Warm-up: the database's own caches and Python's imports, not our tile cache.
    for url in urls:
        cache.clear()
        assert client.get(url).status_code == 200
    cold, cached, floor, healthz, version = [], [], [], [], []
    sizes = []
    for _ in range(ROUNDS):
        for (x, y), url in zip(tiles, urls, strict=True):
            cache.clear()
            begin = time.perf_counter()
            response = client.get(url)
            cold.append(time.perf_counter() - begin)
            assert response["X-Map-Cache"] == "miss"
            sizes.append(len(response.content))
            begin = time.perf_counter()
            response = client.get(url)
            if response["X-Map-Cache"] == "miss":  # the minute turned: cached anew
                begin = time.perf_counter()
                response = client.get(url)
            cached.append(time.perf_counter() - begin)
            assert response["X-Map-Cache"] == "hit"
            statement = bare_statement(user, query, z, x, y)
            begin = time.perf_counter()
            with custom_plans():  # as the view plans it: for this tile's own values
                statement()
            floor.append(time.perf_counter() - begin)
            begin = time.perf_counter()
            client.get("/healthz")
            healthz.append(time.perf_counter() - begin)
            # Signed in, with the session, the person, their roles and the version read:
            # what every request of the map pays before its own work.
            begin = time.perf_counter()
            client.get(reverse("maps:version"))
            version.append(time.perf_counter() - begin)

    def p95(samples):
        return percentile(samples, 95) * 1000

    report(
        f"{name}: {len(tiles)} tiles at zoom {z} x {ROUNDS} rounds"
        f" (median {sorted(sizes)[len(sizes) // 2] / 1024:.1f} KiB, largest"
        f" {max(sizes) / 1024:.1f} KiB)",
        goal=f"p95 < {goal_ms} ms (cold)" if judged else f"p95 < {goal_ms} ms (shown, not judged)",
        figure=(
            f"cold p95 {p95(cold):.1f} ms, median {median_ms(cold):.1f} ms;"
            f" cached p95 {p95(cached):.1f} ms, median {median_ms(cached):.1f} ms"
        ),
        floor=(
            f"the tile's bare SQL p95 {p95(floor):.1f} ms, median {median_ms(floor):.1f} ms;"
            f" bare view median {median_ms(healthz):.2f} ms; signed-in version view median"
            f" {median_ms(version):.1f} ms, p95 {p95(version):.1f} ms"
        ),
        ok=p95(cold) < goal_ms if judged else None,
    )


def current_rollups() -> str:
    """Bring the dashboard's roll-ups up to the last event, as the beat keeps them on a
    working server: the zoom-10 tile of every case reads its counts from them, and counts
    the table itself only while they have never been built (at a million cases, 0.6 s a
    tile, which is not what a supervisor meets)."""
    high_water = RollupState.objects.filter(pk=1).values_list("high_water", flat=True).first()
    last = CaseEvent.objects.aggregate(top=Max("pk"))["top"] or 0
    if (high_water or 0) >= last:
        return "current"
    begin = time.perf_counter()
    if not high_water:
        rollup.rebuild()  # never built: the nightly rebuild, faster than catching up
        how = "built by the nightly rebuild"
    else:
        caught = rollup.catch_up_all()
        how = f"caught up ({caught:,} cases)"
    return f"{how} in {time.perf_counter() - begin:.0f} s"


def run() -> None:
    if connection.vendor != "postgresql":
        print(f"map tiles at 1M: skipped, needs PostGIS; this run is on {connection.vendor}\n")
        return
    print(f"stored cases: {ensure_stored()}")
    print(f"dashboard roll-ups: {current_rollups()}")
    supervisor, officer = person(Role.SUPERVISOR), person(Role.OFFICER)
    month_ago = (timezone.localdate() - timezone.timedelta(days=30)).isoformat()
    total = Case.objects.count()
    print(
        f"{total:,} cases, map version {current_version()}, supervisor {supervisor},"
        f" officer {officer} ({', '.join(d.name for d in officer.departments.all())})"
    )
    scenario(
        "zoom 14, supervisor, open cases (the page's default)",
        supervisor,
        14,
        "stage=open",
        POINTS_GOAL_MS,
        True,
    )
    scenario("zoom 14, officer, open cases", officer, 14, "stage=open", POINTS_GOAL_MS, True)
    scenario(
        f"zoom 14, supervisor, every stage reported since {month_ago}",
        supervisor,
        14,
        f"since={month_ago}",
        POINTS_GOAL_MS,
        False,
    )
    scenario(
        "zoom 10, supervisor, open cases per street",
        supervisor,
        10,
        "stage=open",
        AGGREGATE_GOAL_MS,
        True,
    )
    scenario(
        "zoom 10, supervisor, all cases per street", supervisor, 10, "", AGGREGATE_GOAL_MS, True
    )
    scenario(
        "zoom 12, supervisor, open cases per community",
        supervisor,
        12,
        "stage=open",
        AGGREGATE_GOAL_MS,
        False,
    )
