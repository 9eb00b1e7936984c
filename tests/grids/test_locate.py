import datetime
import math
import random
import zoneinfo

from django.contrib.gis.geos import Point
from django.db import connection
from django.test import TestCase

from grids.models import UnitGrid, locate
from grids.services import area_m2
from tests.grids.helpers import bbox, make_areas

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def make_grid(community, code: str, shape, **extra) -> UnitGrid:
    return UnitGrid.objects.create(
        code=code, community=community, boundary=shape, area_m2=area_m2(shape), **extra
    )


class LocateTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.district, cls.street, cls.community = make_areas(bbox(116.400, 39.910, 116.404, 39.913))
        # Two grids side by side sharing the edge x = 116.402.
        cls.west = make_grid(
            cls.community, "110101001001001", bbox(116.400, 39.910, 116.402, 39.913)
        )
        cls.east = make_grid(
            cls.community, "110101001001002", bbox(116.402, 39.910, 116.404, 39.913)
        )

    def test_it_finds_the_grid_and_its_areas(self):
        where = locate(Point(116.4005, 39.911))
        self.assertTrue(where.covered)
        self.assertEqual(where.grid, self.west)
        self.assertEqual(
            (where.community.code, where.street.code, where.district.code),
            ("110101001001", "110101001", "110101"),
        )

    def test_a_point_on_a_shared_edge_goes_to_the_lower_code(self):
        for _ in range(3):
            self.assertEqual(locate(Point(116.402, 39.9115)).grid, self.west)
        # Also when the lower code was created last.
        self.west.delete()
        lower = make_grid(self.community, "110101001001000", bbox(116.400, 39.910, 116.402, 39.913))
        self.assertEqual(locate(Point(116.402, 39.9115)).grid, lower)

    def test_a_point_outside_every_grid_is_outside_coverage(self):
        where = locate(Point(116.50, 39.95))
        self.assertFalse(where.covered)
        self.assertIsNone(where.grid)
        self.assertIsNone(where.district)

    def test_a_point_without_srid_is_read_as_wgs84(self):
        self.assertEqual(locate(Point(116.4035, 39.912, srid=None)).grid, self.east)

    def test_a_grid_whose_validity_ended_answers_only_for_its_time(self):
        redraw = datetime.date(2026, 3, 1)
        UnitGrid.objects.filter(pk=self.east.pk).update(
            valid_from=datetime.date(2025, 1, 1), valid_to=redraw
        )
        successor = make_grid(
            self.community,
            "110101001001002",
            bbox(116.402, 39.910, 116.4035, 39.913),
            valid_from=redraw,
        )
        before = datetime.datetime(2026, 2, 28, 23, 59, tzinfo=SHANGHAI)
        after = datetime.datetime(2026, 3, 1, 0, 1, tzinfo=SHANGHAI)
        self.assertEqual(locate(Point(116.4037, 39.912), at=before).grid, self.east)
        # After the redraw that spot left every grid: outside coverage, not the old grid.
        self.assertFalse(locate(Point(116.4037, 39.912), at=after).covered)
        self.assertEqual(locate(Point(116.4030, 39.912), at=after).grid, successor)
        self.assertEqual(locate(Point(116.4030, 39.912), at=before).grid, self.east)
        # Before the old grid existed: nothing.
        self.assertFalse(
            locate(
                Point(116.4030, 39.912), at=datetime.datetime(2024, 6, 1, tzinfo=SHANGHAI)
            ).covered
        )


class LocatePlanTestCase(TestCase):
    """On PostgreSQL the lookup is planned once per connection, not once per point."""

    def test_postgresql_keeps_one_plan_for_every_point(self):
        if connection.vendor != "postgresql":
            self.skipTest("plans are PostgreSQL's")
        _, _, community = make_areas(bbox(116.40, 39.90, 116.44, 39.925))
        side = 0.0001  # about 10 m: 400 x 250 cells, a city's worth of rows
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO grids_unitgrid"
                " (code, boundary, area_m2, land_use, management_level, valid_from,"
                " community_id)"
                " SELECT 'T' || lpad(n::text, 9, '0'), ST_Multi(ST_MakeEnvelope("
                " 116.40 + (n %% 400) * %s, 39.90 + (n / 400) * %s,"
                " 116.40 + (n %% 400 + 1) * %s, 39.90 + (n / 400 + 1) * %s, 4326)),"
                " 100, 'mixed', 0, DATE '2020-01-01', %s"
                " FROM generate_series(0, 99999) AS n",
                [side, side, side, side, community.pk],
            )
            # Statistics as a working database has them: with them, a plan for one point
            # looked cheaper than the generic plan, and PostgreSQL planned every call.
            cursor.execute("ANALYZE grids_unitgrid")
        rng = random.Random(7)
        for _ in range(20):
            n = rng.randrange(100_000)
            x, y = 116.40 + (n % 400 + 0.5) * side, 39.90 + (n // 400 + 0.5) * side
            self.assertEqual(locate(Point(x, y)).grid.code, f"T{n:09d}")
        self.assertFalse(locate(Point(116.50, 39.95)).covered)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
                " WHERE statement LIKE %s",
                ["%FROM grids_unitgrid%ST_Intersects%"],
            )
            plans = cursor.fetchall()
        self.assertEqual(len(plans), 1, plans)
        generic, custom = plans[0]
        # Prepared after DB_PREPARE_THRESHOLD runs; PostgreSQL then tries five plans of
        # its own before it keeps the generic one, when that costs no more.
        self.assertGreater(generic, 0, plans)
        self.assertLessEqual(custom, 5, plans)


class NearbyTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        _, _, community = make_areas(bbox(116.400, 39.910, 116.406, 39.913))
        cls.grids = [
            make_grid(
                community,
                f"110101001001{n:03d}",
                bbox(116.400 + 0.002 * (n - 1), 39.910, 116.400 + 0.002 * n, 39.913),
            )
            for n in (1, 2, 3)
        ]

    def test_it_lists_neighbours_sharing_an_edge(self):
        from grids.services import grid_neighbours

        self.assertEqual(list(grid_neighbours(self.grids[1])), [self.grids[0], self.grids[2]])
        self.assertEqual(list(grid_neighbours(self.grids[0])), [self.grids[1]])

    def test_it_lists_grids_within_a_distance_nearest_first(self):
        from grids.services import grids_near

        # 116.4005 is inside grid 1; grid 2 starts 0.0015° (about 128 m) east.
        point = Point(116.4005, 39.9115, srid=4326)
        near = grids_near(point, 100)
        self.assertEqual([(g.code, round(d)) for g, d in near], [("110101001001001", 0)])
        near = grids_near(point, 150)
        self.assertEqual([g for g, _ in near], self.grids[:2])
        self.assertAlmostEqual(
            near[1][1], 0.0015 * 111_320 * math.cos(math.radians(39.9115)), delta=1.5
        )
