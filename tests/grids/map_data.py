"""A small city for the map tests: three generated communities and their workers."""

import datetime
import math

from django.contrib.gis.geos import MultiPolygon, Polygon
from django.utils import timezone

from grids.models import Area, GridAssignment, UnitGrid
from grids.services import grids_generate
from org.models import Role
from tests.base import make_person
from tests.grids.helpers import bbox, make_areas

# Each community: a rectangle or a circle, far enough apart that a box holds only one.
EAST_SHAPE = bbox(116.400, 39.910, 116.4035, 39.9127)  # 3 x 3 cells of 100 m
WEST_SHAPE = bbox(116.390, 39.910, 116.3923, 39.9118)  # 2 x 2 cells
ROUND_CENTRE = (116.420, 39.920)


def circle(lon: float, lat: float, metres: float, vertices: int = 256) -> MultiPolygon:
    """A round community: its edge grids carry many vertices, for simplification."""
    dlat = metres / 111_320
    dlon = metres / (111_320 * math.cos(math.radians(lat)))
    ring = [
        (
            lon + dlon * math.cos(2 * math.pi * i / vertices),
            lat + dlat * math.sin(2 * math.pi * i / vertices),
        )
        for i in range(vertices)
    ]
    return MultiPolygon(Polygon(ring + [ring[0]]), srid=4326)


def vertex_count(geometry: dict) -> int:
    """Vertices of a GeoJSON (Multi)Polygon."""
    polygons = (
        geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    )
    return sum(len(ring) for polygon in polygons for ring in polygon)


class MapData:
    """Wang (the personas' grid worker) is responsible for the first two east grids and
    deputy of the third; Liu is responsible for the third and all west grids; the round
    community's grids have no worker."""

    @classmethod
    def make_map_data(cls):
        start = timezone.localdate() - datetime.timedelta(days=30)
        cls.district, cls.street, cls.east = make_areas(EAST_SHAPE, suffix="001")
        cls.west = Area.objects.create(
            code="110101001002",
            name="西社区",
            level=Area.Level.COMMUNITY,
            parent=cls.street,
            boundary=WEST_SHAPE,
        )
        cls.round = Area.objects.create(
            code="110101001003",
            name="圆社区",
            level=Area.Level.COMMUNITY,
            parent=cls.street,
            boundary=circle(*ROUND_CENTRE, metres=250),
        )
        for community in (cls.east, cls.west, cls.round):
            grids_generate(community=community, cell_size=100, valid_from=start)
        cls.east_grids = list(UnitGrid.objects.filter(community=cls.east).order_by("code"))
        cls.west_grids = list(UnitGrid.objects.filter(community=cls.west).order_by("code"))
        cls.liu = make_person("liu", Role.GRID_WORKER, full_name="刘洋")
        responsible, deputy = GridAssignment.Duty.RESPONSIBLE, GridAssignment.Duty.DEPUTY
        plan = [
            (cls.east_grids[0], cls.wang, responsible),
            (cls.east_grids[1], cls.wang, responsible),
            (cls.east_grids[2], cls.liu, responsible),
            (cls.east_grids[2], cls.wang, deputy),
        ] + [(grid, cls.liu, responsible) for grid in cls.west_grids]
        for grid, worker, duty in plan:
            GridAssignment.objects.create(grid=grid, worker=worker, duty=duty, start=start)
        cls.wang_codes = {grid.code for grid in cls.east_grids[:3]}
