"""Demo geography: Dongcheng district with its real 17 streets and 169 communities.

The codes and names are real (governance/demo_data/); the polygons are not, since no
open boundary data ships with GridGov: streets are laid out in rows roughly where they lie
(和平里 in the north, 永定门外 in the south) and each street is cut into its communities.
Unit grids are generated in every community; workers are assigned 4-6 grids each.
"""

import csv
import math
from collections import defaultdict

from django.contrib.gis.geos import MultiPolygon, Polygon
from django.db import transaction

from org.demo import DATA_DIR, GIVEN, SURNAMES
from org.models import Department, Membership, Role, RoleGrant, User

from .models import Area, GridAssignment, UnitGrid
from .services import grids_generate

DISTRICT = ("110101", "东城区")
# Roughly 5 km x 10 km, about Dongcheng's 42 km².
EXTENT = (116.388, 39.868, 116.446, 39.958)
# Streets in rows from north to south, west to east within a row.
STREET_ROWS = [
    ["110101017"],  # 和平里
    ["110101004", "110101003", "110101005", "110101013"],  # 安定门 交道口 北新桥 东直门
    ["110101002", "110101006", "110101007"],  # 景山 东四 朝阳门
    ["110101001", "110101008"],  # 东华门 建国门
    ["110101009", "110101010", "110101012"],  # 前门 崇文门外 东花市
    ["110101015", "110101016", "110101014"],  # 天坛 体育馆路 龙潭
    ["110101011"],  # 永定门外
]
# 250 m cells give about 1,100 grids, fewer and larger than Dongcheng's 1,652 (2.5 ha on
# average), so that the demo loads in seconds.
CELL_SIZE = 250
GRIDS_PER_WORKER = 5
DEMO_WORKER_COMMUNITY = "110101001001"  # 多福巷社区, the demo grid worker's


def box(xmin: float, ymin: float, xmax: float, ymax: float) -> MultiPolygon:
    return MultiPolygon(Polygon.from_bbox((xmin, ymin, xmax, ymax)), srid=4326)


def split(extent: tuple[float, float, float, float], count: int) -> list[tuple[float, ...]]:
    """Cut a rectangle into ``count`` blocks in rows; the last row's blocks are wider so
    that the blocks tile the rectangle exactly."""
    xmin, ymin, xmax, ymax = extent
    aspect = (xmax - xmin) * math.cos(math.radians((ymin + ymax) / 2)) / (ymax - ymin)
    columns = max(1, round(math.sqrt(count * aspect)))
    rows = math.ceil(count / columns)
    blocks = []
    for row in range(rows):
        in_row = columns if row < rows - 1 else count - columns * (rows - 1)
        top = ymax - row * (ymax - ymin) / rows
        bottom = ymax - (row + 1) * (ymax - ymin) / rows
        for column in range(in_row):
            left = xmin + column * (xmax - xmin) / in_row
            right = xmin + (column + 1) * (xmax - xmin) / in_row
            blocks.append((left, bottom, right, top))
    return blocks


def read_csv(name: str) -> list[dict]:
    with open(DATA_DIR / name, encoding="utf-8") as f:
        return list(csv.DictReader(f))


def load_areas() -> None:
    if Area.objects.filter(code=DISTRICT[0]).exists():
        return
    district = Area.objects.create(
        code=DISTRICT[0], name=DISTRICT[1], level=Area.Level.DISTRICT, boundary=box(*EXTENT)
    )
    street_names = {row["code"]: row["name"] for row in read_csv("dongcheng-streets.csv")}
    communities = defaultdict(list)
    for row in read_csv("dongcheng-communities.csv"):
        communities[row["streetCode"]].append((row["code"], row["name"].removesuffix("居委会")))

    xmin, ymin, xmax, ymax = EXTENT
    for index, row in enumerate(STREET_ROWS):
        top = ymax - index * (ymax - ymin) / len(STREET_ROWS)
        bottom = ymax - (index + 1) * (ymax - ymin) / len(STREET_ROWS)
        for column, street_code in enumerate(row):
            left = xmin + column * (xmax - xmin) / len(row)
            right = xmin + (column + 1) * (xmax - xmin) / len(row)
            street = Area.objects.create(
                code=street_code,
                name=street_names[street_code],
                level=Area.Level.STREET,
                parent=district,
                boundary=box(left, bottom, right, top),
            )
            members = sorted(communities[street_code])
            for (code, name), block in zip(
                members, split((left, bottom, right, top), len(members)), strict=True
            ):
                Area.objects.create(
                    code=code,
                    name=name,
                    level=Area.Level.COMMUNITY,
                    parent=street,
                    boundary=box(*block),
                )


def load_grids() -> None:
    for community in Area.objects.filter(level=Area.Level.COMMUNITY, code__startswith=DISTRICT[0]):
        if not UnitGrid.objects.filter(community=community).exists():
            grids_generate(community=community, cell_size=CELL_SIZE)


def ensure_worker(username: str, full_name: str, street_office: Department | None) -> User:
    worker, created = User.objects.get_or_create(
        username=username, defaults={"full_name": full_name}
    )
    if created:
        worker.set_unusable_password()
        worker.save(update_fields=["password"])
        RoleGrant.objects.create(user=worker, role=Role.GRID_WORKER)
        if street_office is not None:
            Membership.objects.create(user=worker, department=street_office)
    return worker


def load_assignments() -> None:
    """Every current grid gets a responsible worker and, from a colleague in the same
    community, a deputy. The demo grid worker takes the first grids of 多福巷社区."""
    offices = {
        d.code.removeprefix("street-"): d for d in Department.objects.filter(kind="street_office")
    }
    assigned = set(
        GridAssignment.objects.filter(end__isnull=True, duty="responsible").values_list(
            "grid_id", flat=True
        )
    )
    by_community = defaultdict(list)
    demo_grids = UnitGrid.objects.current().filter(code__startswith=DISTRICT[0])
    for grid in demo_grids.select_related("community").order_by("code"):
        if grid.pk not in assigned:
            by_community[grid.community].append(grid)

    serial = 0
    new = []
    for community, grids in sorted(by_community.items(), key=lambda item: item[0].code):
        office = offices.get(community.parent.code) if community.parent_id else None
        teams = [grids[i : i + GRIDS_PER_WORKER] for i in range(0, len(grids), GRIDS_PER_WORKER)]
        workers = []
        for number, _team in enumerate(teams, start=1):
            if community.code == DEMO_WORKER_COMMUNITY and number == 1:
                workers.append(User.objects.get(username="worker"))
                continue
            serial += 1
            name = SURNAMES[(serial * 7) % len(SURNAMES)] + GIVEN[(serial * 5) % len(GIVEN)]
            workers.append(ensure_worker(f"gw-{community.code}-{number}", name, office))
        for number, team in enumerate(teams):
            deputy = workers[(number + 1) % len(workers)]
            for grid in team:
                new.append(GridAssignment(grid=grid, worker=workers[number], duty="responsible"))
                if deputy != workers[number]:
                    new.append(GridAssignment(grid=grid, worker=deputy, duty="deputy"))
    GridAssignment.objects.bulk_create(new)


@transaction.atomic
def load() -> dict[str, int]:
    load_areas()
    load_grids()
    load_assignments()
    return {
        "streets": Area.objects.filter(level=Area.Level.STREET).count(),
        "communities": Area.objects.filter(level=Area.Level.COMMUNITY).count(),
        "grids": UnitGrid.objects.current().count(),
        "grid workers": User.objects.filter(role_grants__role=Role.GRID_WORKER).count(),
    }
