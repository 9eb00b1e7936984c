import datetime
import zoneinfo

from django.contrib.gis.geos import Point
from django.test import TestCase

from grids.models import UnitGrid, locate, locate_many
from grids.services import area_m2
from tests.grids.helpers import bbox, make_areas

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def make_grid(community, code: str, shape, **extra) -> UnitGrid:
    return UnitGrid.objects.create(
        code=code, community=community, boundary=shape, area_m2=area_m2(shape), **extra
    )


def summary(where) -> tuple:
    """What a caller reads from a Location."""
    if not where.covered:
        return (where.point.coords, None)
    return (
        where.point.coords,
        where.grid.pk,
        where.grid.code,
        [(a.pk, a.code, a.name, a.level) for a in (where.community, where.street, where.district)],
    )


class LocateManyTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        _, _, cls.community = make_areas(bbox(116.400, 39.910, 116.404, 39.913))
        # Two grids side by side sharing the edge x = 116.402; the eastern one was redrawn
        # on 2026-03-01 (its old shape reached 116.404, the new one 116.4035).
        cls.west = make_grid(
            cls.community, "110101001001001", bbox(116.400, 39.910, 116.402, 39.913)
        )
        cls.east_old = make_grid(
            cls.community,
            "110101001001002",
            bbox(116.402, 39.910, 116.404, 39.913),
            valid_from=datetime.date(2025, 1, 1),
            valid_to=datetime.date(2026, 3, 1),
        )
        cls.east = make_grid(
            cls.community,
            "110101001001002",
            bbox(116.402, 39.910, 116.4035, 39.913),
            valid_from=datetime.date(2026, 3, 1),
        )
        cls.points = [
            Point(116.4005, 39.911, srid=4326),  # west
            Point(116.4030, 39.912, srid=4326),  # east
            Point(116.402, 39.9115, srid=4326),  # on the shared edge: the lower code
            Point(116.50, 39.95, srid=4326),  # outside every grid
            Point(116.4037, 39.912, srid=4326),  # only in the old eastern grid
            Point(116.4005, 39.911, srid=4326),  # the first point again
            Point(116.4001, 39.9101, srid=None),  # no SRID: read as WGS84
        ]

    def assert_matches_locate(self, points, at=None):
        many = locate_many(points, at=at)
        self.assertEqual(len(many), len(points))
        self.assertEqual([summary(w) for w in many], [summary(locate(p, at=at)) for p in points])
        return many

    def test_it_answers_like_locate_for_every_point_in_order(self):
        many = self.assert_matches_locate(self.points)
        self.assertEqual(
            [where.grid for where in many],
            [self.west, self.east, self.west, None, None, self.west, self.west],
        )
        self.assertEqual(
            (many[0].community, many[0].street.code, many[0].district.code),
            (self.community, "110101001", "110101"),
        )
        self.assertEqual(many[6].point.srid, 4326)

    def test_a_past_moment_uses_the_grids_valid_then(self):
        before = datetime.datetime(2026, 2, 28, 23, 59, tzinfo=SHANGHAI)
        many = self.assert_matches_locate(self.points, at=before)
        self.assertEqual(many[4].grid, self.east_old)
        self.assertEqual(many[1].grid, self.east_old)
        long_ago = datetime.datetime(2020, 1, 1, tzinfo=SHANGHAI)
        self.assertFalse(any(w.covered for w in self.assert_matches_locate(self.points, long_ago)))

    def test_a_point_in_another_srid_is_transformed(self):
        mercator = Point(116.4030, 39.912, srid=4326).transform(3857, clone=True)
        many = self.assert_matches_locate([mercator])
        self.assertEqual(many[0].grid, self.east)
        self.assertEqual(many[0].point.srid, 3857)

    def test_the_areas_come_with_the_grid(self):
        many = locate_many(self.points[:3])
        with self.assertNumQueries(0):
            names = [(w.grid.community.name, w.street.parent.code, w.district.code) for w in many]
        self.assertEqual(names, [("社区001", "110101", "110101")] * 3)

    def test_no_points_no_answers(self):
        with self.assertNumQueries(0):
            self.assertEqual(locate_many([]), [])
