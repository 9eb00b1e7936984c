from django.contrib.gis.geos import Point

from cases.models import Category, Stage
from cases.services import duplicates_near
from cases.workflow import perform
from tests.cases.base import INSIDE, CaseTestCase


class DuplicatesTestCase(CaseTestCase):
    def test_it_finds_open_cases_of_the_same_category_nearby(self):
        near = self.report(point=Point(INSIDE.x + 0.0002, INSIDE.y, srid=4326))  # about 17 m east
        far = self.report(point=Point(INSIDE.x + 0.0010, INSIDE.y, srid=4326))  # about 85 m east
        other = self.report(category=Category.objects.get(full_code="E0104"))
        closed = self.case_in(Stage.CHECKING)
        perform(
            closed,
            "check_pass",
            self.wang,
            photos=[__import__("tests.cases.base").cases.base.photo()],
        )

        found = duplicates_near(INSIDE, self.category)
        self.assertEqual([case for case, _ in found], [near])
        self.assertAlmostEqual(found[0][1], 17.1, delta=0.5)
        self.assertEqual(
            [c for c, _ in duplicates_near(INSIDE, self.category, radius=100)], [near, far]
        )
        self.assertNotIn(
            other, [c for c, _ in duplicates_near(INSIDE, other.category, radius=100)][1:]
        )
