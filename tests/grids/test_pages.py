import json

from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from grids.models import GridAssignment
from org.models import Role
from tests.base import BaseTestCase, make_person
from tests.grids.map_data import MapData

MINE = reverse("grids:mine")
MAP = reverse("grids:map")


def embedded(response, element_id: str):
    """The JSON a page hands its script through json_script."""
    html = response.content.decode()
    start = html.index(f'<script id="{element_id}" type="application/json">')
    start = html.index(">", start) + 1
    return json.loads(html[start : html.index("</script>", start)])


class PageTestCase(MapData, BaseTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.make_map_data()

    def get(self, url, user):
        self.client.force_login(user)
        return self.client.get(url, HTTP_ACCEPT_LANGUAGE="en")


class MyGridsTestCase(PageTestCase):
    def test_a_grid_worker_sees_only_their_own_grids(self):
        response = self.get(MINE, self.wang)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "<h1>My grids</h1>", html=True)
        features = embedded(response, "my-grids-config")["grids"]["features"]
        self.assertEqual({f["properties"]["code"] for f in features}, self.wang_codes)
        for grid in self.east_grids[:3]:
            self.assertContains(response, f'id="grid-{grid.code}"')
        for grid in self.east_grids[3:] + self.west_grids:
            self.assertNotContains(response, grid.code)

    def test_another_grid_worker_sees_theirs(self):
        response = self.get(MINE, self.liu)
        features = embedded(response, "my-grids-config")["grids"]["features"]
        self.assertEqual(
            {f["properties"]["code"] for f in features},
            {self.east_grids[2].code} | {grid.code for grid in self.west_grids},
        )
        self.assertNotContains(response, self.east_grids[0].code)

    def test_it_describes_each_grid_and_the_workers_duty(self):
        response = self.get(MINE, self.wang)
        first, third = self.east_grids[0], self.east_grids[2]
        self.assertContains(response, "社区001")
        self.assertContains(response, "110101001001")
        self.assertContains(response, f"{first.area_m2:,.0f} m²")
        self.assertContains(response, "<dd>Mixed</dd>", html=True)
        self.assertContains(response, "<dd>Standard (class 2)</dd>", html=True)
        html = response.content.decode()
        card = html[html.index(f'id="grid-{first.code}"') :]
        self.assertIn('<dd class="duty">Responsible</dd>', card[: card.index("</li>")])
        card = html[html.index(f'id="grid-{third.code}"') :]
        self.assertIn('<dd class="duty">Deputy</dd>', card[: card.index("</li>")])

    def test_it_forgets_grids_the_worker_has_handed_over(self):
        GridAssignment.objects.filter(grid=self.east_grids[0], worker=self.wang).update(
            end=timezone.localdate()
        )
        features = embedded(self.get(MINE, self.wang), "my-grids-config")["grids"]["features"]
        self.assertNotIn(self.east_grids[0].code, {f["properties"]["code"] for f in features})
        self.assertEqual(len(features), 2)

    def test_it_lists_the_open_cases_in_my_grids_only(self):
        from cases import seed
        from cases.models import Category, FilingCondition
        from cases.services import case_report

        seed.load(Category, FilingCondition)
        garbage = Category.objects.get(full_code="E0102")

        def report(grid, reporter):
            return case_report(
                reporter=reporter,
                source="patrol",
                point=grid.boundary.point_on_surface,
                category=garbage,
                description="垃圾",
            )

        mine = report(self.east_grids[0], self.wang)
        theirs = report(self.west_grids[0], self.liu)
        response = self.get(MINE, self.wang)
        self.assertContains(response, "Open cases in my grids")
        self.assertEqual([c.pk for c in response.context["open_cases"]], [mine.pk])
        self.assertNotContains(response, f'data-case="{theirs.pk}"')

    def test_a_worker_without_grids_is_told_so(self):
        newcomer = make_person("newcomer", Role.GRID_WORKER)
        response = self.get(MINE, newcomer)
        self.assertContains(response, "You are not responsible for any unit grid today.")
        self.assertNotContains(response, 'id="my-grids-map"')
        self.assertContains(response, 'id="open-cases"')

    def test_it_is_for_grid_workers_only(self):
        for role, person in self.personas.items():
            with self.subTest(role=role):
                expected = 200 if role == Role.GRID_WORKER else 403
                self.assertEqual(self.get(MINE, person).status_code, expected)
        self.assertEqual(self.get(MINE, self.nobody).status_code, 403)
        self.client.logout()
        self.assertRedirects(
            self.client.get(MINE), f"{reverse('login')}?next={MINE}", fetch_redirect_response=False
        )

    def test_it_makes_a_fixed_number_of_queries(self):
        self.get(MINE, self.wang)
        # Session, user, roles, the grids, their assignments with workers, open cases, the
        # header's unread count.
        with self.assertNumQueries(7):
            self.client.get(MINE)


class GridMapTestCase(PageTestCase):
    def test_administrators_and_supervisors_open_it(self):
        for role, person in self.personas.items():
            with self.subTest(role=role):
                expected = 200 if role in (Role.ADMINISTRATOR, Role.SUPERVISOR) else 403
                self.assertEqual(self.get(MAP, person).status_code, expected)
        self.client.logout()
        self.assertRedirects(
            self.client.get(MAP), f"{reverse('login')}?next={MAP}", fetch_redirect_response=False
        )

    def test_it_hands_the_map_its_api_and_extent(self):
        response = self.get(MAP, self.zhou)
        self.assertContains(response, "<h1>Grid map</h1>", html=True)
        self.assertContains(response, "vendor/leaflet/leaflet.js")
        config = embedded(response, "grid-map-config")
        self.assertEqual(config["gridsUrl"], "/api/v1/grids/")
        self.assertEqual(config["areasUrl"], "/api/v1/areas/")
        self.assertEqual(config["base"], [])
        xmin, ymin, xmax, ymax = config["extent"]
        self.assertAlmostEqual(xmin, 116.390, places=5)
        self.assertGreater(xmax, 116.420)
        self.assertTrue(ymin < 39.91 < 39.92 < ymax)

    @override_settings(
        MAP_BASE_LAYER="osm", MAP_TILE_URL="https://tiles.example.org/{z}/{x}/{y}.png"
    )
    def test_it_can_draw_on_openstreetmap_tiles(self):
        (layer,) = embedded(self.get(MAP, self.ada), "grid-map-config")["base"]
        self.assertEqual(layer["url"], "https://tiles.example.org/{z}/{x}/{y}.png")
        self.assertIn("OpenStreetMap", layer["options"]["attribution"])

    @override_settings(MAP_BASE_LAYER="tianditu", TIANDITU_KEY="k123")
    def test_it_can_draw_on_tianditu(self):
        layers = embedded(self.get(MAP, self.ada), "grid-map-config")["base"]
        self.assertEqual(len(layers), 2)
        self.assertTrue(layers[0]["url"].startswith("https://t{s}.tianditu.gov.cn/vec_w/wmts?"))
        self.assertIn("&LAYER=vec&", layers[0]["url"])
        self.assertIn("&LAYER=cva&", layers[1]["url"])
        self.assertIn("&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&", layers[1]["url"])
        self.assertTrue(all(layer["url"].endswith("&tk=k123") for layer in layers))
