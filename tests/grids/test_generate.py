import datetime

from django.contrib.gis.geos import MultiPolygon, Polygon
from django.test import TestCase, override_settings

from grids.models import GridAssignment, UnitGrid
from grids.services import GridError, area_m2, grids_generate, local_metric_srs, to_metric
from tests.base import make_person
from tests.grids.helpers import make_areas

# A community with a slanted north-east edge and a notch, about 0.29 km².
IRREGULAR = MultiPolygon(
    Polygon(
        (
            (116.4000, 39.9100),
            (116.4065, 39.9100),
            (116.4065, 39.9135),
            (116.4032, 39.9151),
            (116.4018, 39.9151),
            (116.4018, 39.9140),
            (116.4000, 39.9140),
            (116.4000, 39.9100),
        )
    ),
    srid=4326,
)


def metric_rectangle(width: float, height: float) -> MultiPolygon:
    """A community exactly ``width`` x ``height`` metres in the local projection."""
    srs = local_metric_srs(116.40, 39.91)
    rectangle = Polygon.from_bbox((0, 0, width, height))
    rectangle.srid = None
    from grids.services import to_wgs84

    return MultiPolygon(to_wgs84(rectangle, srs), srid=4326)


class GenerateTestCase(TestCase):
    def test_it_covers_the_community_without_gaps_or_overlaps(self):
        _, _, community = make_areas(IRREGULAR)
        grids = grids_generate(community=community, cell_size=100)
        self.assertGreater(len(grids), 25)

        total = sum(grid.area_m2 for grid in grids)
        expected = area_m2(community.boundary)
        self.assertAlmostEqual(total / expected, 1.0, delta=0.001)

        centre = community.boundary.centroid
        srs = local_metric_srs(centre.x, centre.y)
        shapes = [
            to_metric(grid.boundary, srs) for grid in UnitGrid.objects.filter(community=community)
        ]
        union = shapes[0]
        for shape in shapes[1:]:
            union = union.union(shape)
        community_m = to_metric(community.boundary, srs)
        # No gap: the union is the community, to within a square metre in 0.29 km².
        self.assertLess(union.sym_difference(community_m).area, 1.0)
        # No overlap: the parts add up to the union.
        self.assertAlmostEqual(sum(s.area for s in shapes), union.area, delta=1.0)

    def test_it_numbers_west_to_east_then_north_to_south(self):
        _, _, community = make_areas(metric_rectangle(350, 250))
        grids = grids_generate(community=community, cell_size=100)
        # 4 columns (the last 50 m wide) by 3 rows (the last 50 m high).
        self.assertEqual(len(grids), 12)
        self.assertEqual([g.code for g in grids], [f"110101001001{n:03d}" for n in range(1, 13)])
        centroids = [g.boundary.centroid for g in grids]
        for row in range(3):
            xs = [c.x for c in centroids[row * 4 : row * 4 + 4]]
            self.assertEqual(xs, sorted(xs), "west to east within a row")
        ys = [centroids[row * 4].y for row in range(3)]
        self.assertEqual(ys, sorted(ys, reverse=True), "north to south between rows")
        self.assertAlmostEqual(grids[0].area_m2, 10_000, delta=1)
        self.assertAlmostEqual(grids[3].area_m2, 5_000, delta=1)
        self.assertAlmostEqual(grids[11].area_m2, 2_500, delta=1)

    def test_it_merges_slivers_into_their_neighbour(self):
        _, _, community = make_areas(metric_rectangle(303, 200))
        grids = grids_generate(community=community, cell_size=100)
        # The 3 m column is 3 % of a cell: it joins the column west of it.
        self.assertEqual(len(grids), 6)
        self.assertAlmostEqual(grids[2].area_m2, 10_300, delta=2)
        self.assertAlmostEqual(sum(g.area_m2 for g in grids), 60_600, delta=5)

    @override_settings(GRID_SEQUENCE_DIGITS=2)
    def test_it_uses_two_digit_numbers_when_configured(self):
        _, _, community = make_areas(metric_rectangle(300, 200))
        grids = grids_generate(community=community, cell_size=100)
        self.assertEqual(grids[0].code, "11010100100101")

    def test_it_refuses_more_grids_than_the_digits_allow(self):
        _, _, community = make_areas(metric_rectangle(1100, 1000))
        with self.assertRaisesMessage(GridError, "more than 2 digits allow"):
            grids_generate(community=community, cell_size=100, digits=2)
        self.assertFalse(UnitGrid.objects.exists())

    def test_it_refuses_a_street(self):
        _, street, _ = make_areas()
        with self.assertRaisesMessage(GridError, "is not a community"):
            grids_generate(community=street)

    def test_redrawing_keeps_the_old_grids_and_ends_their_assignments(self):
        _, _, community = make_areas(metric_rectangle(200, 200))
        first_day = datetime.date(2026, 1, 1)
        old = grids_generate(community=community, cell_size=100, valid_from=first_day)
        worker = make_person("wang")
        GridAssignment.objects.create(
            grid=old[0], worker=worker, duty="responsible", start=first_day
        )

        redraw_day = datetime.date(2026, 6, 1)
        new = grids_generate(community=community, cell_size=50, valid_from=redraw_day)
        self.assertEqual(len(new), 16)
        self.assertEqual(UnitGrid.objects.filter(community=community).count(), 20)
        old[0].refresh_from_db()
        self.assertEqual(old[0].valid_to, redraw_day)
        self.assertEqual(GridAssignment.objects.get().end, redraw_day)
        self.assertEqual(UnitGrid.objects.valid_on(datetime.date(2026, 5, 31)).count(), 4)
        self.assertEqual(UnitGrid.objects.valid_on(redraw_day).count(), 16)

        with self.assertRaisesMessage(GridError, "a replacement must start after that"):
            grids_generate(community=community, cell_size=100, valid_from=redraw_day)


class GenerateCommandTestCase(TestCase):
    def test_it_generates_for_every_community_of_a_street(self):
        from io import StringIO

        from django.core.management import call_command

        make_areas(metric_rectangle(200, 200))
        make_areas(metric_rectangle(300, 100), suffix="002")
        out = StringIO()
        call_command("generate_grids", "110101001", "--size", "100", stdout=out)
        self.assertIn("4 unit grids", out.getvalue())
        self.assertIn("3 unit grids", out.getvalue())
        self.assertEqual(UnitGrid.objects.count(), 7)

    def test_it_says_when_a_code_is_unknown(self):
        from django.core.management import call_command
        from django.core.management.base import CommandError

        with self.assertRaisesMessage(CommandError, "No area has the code 999"):
            call_command("generate_grids", "999")
