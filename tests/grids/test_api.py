import datetime
import json
from unittest import mock

from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from grids.models import Area, GridAssignment, UnitGrid
from grids.serializers import GridFeatureSerializer, grid_features, with_current_assignments
from grids.services import grids_generate
from org.models import Role
from tests.base import BaseTestCase, make_person
from tests.grids.map_data import ROUND_CENTRE, MapData, vertex_count

GRIDS = reverse("grids_api:grids")
AREAS = reverse("grids_api:areas")
LOCATE = reverse("grids_api:locate")
# Boxes around one community each (see tests/grids/map_data.py).
EAST_BOX = "116.3995,39.9095,116.4040,39.9130"
WEST_BOX = "116.3895,39.9095,116.3930,39.9120"
NOWHERE_BOX = "116.50,39.95,116.51,39.96"


class ApiTestCase(MapData, BaseTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.make_map_data()

    def get(self, url, params=None, user=None):
        self.client.force_login(user or self.zhou)
        return self.client.get(url, params or {}, HTTP_ACCEPT_LANGUAGE="en")

    def assertBadRequest(self, response, field):
        self.assertEqual(response.status_code, 400, response.content)
        self.assertEqual(response["Content-Type"], "application/json")
        body = response.json()
        self.assertEqual(body["field"], field, body)
        self.assertTrue(body["detail"], body)
        return body["detail"]


class ApiAccessTestCase(ApiTestCase):
    def test_it_lets_every_staff_role_read(self):
        for role, person in self.personas.items():
            for url, params in (
                (GRIDS, {"bbox": EAST_BOX}),
                (AREAS, {}),
                (LOCATE, {"lon": 116.4005, "lat": 39.9105}),
            ):
                with self.subTest(role=role, url=url):
                    response = self.get(url, params, user=person)
                    self.assertEqual(response.status_code, 200)
                    self.assertEqual(response["Content-Type"], "application/json")

    def test_it_refuses_anonymous_callers_in_json(self):
        for url in (GRIDS, AREAS, LOCATE):
            with self.subTest(url=url):
                response = self.client.get(
                    url, {"lon": 116.4, "lat": 39.9}, HTTP_ACCEPT_LANGUAGE="en"
                )
                self.assertEqual(response.status_code, 401)
                self.assertEqual(response["Content-Type"], "application/json")
                self.assertIn("credentials were not provided", response.json()["detail"])

    def test_it_refuses_a_person_without_a_role(self):
        for url in (GRIDS, AREAS, LOCATE):
            with self.subTest(url=url):
                response = self.get(url, {"lon": 116.4, "lat": 39.9}, user=self.nobody)
                self.assertEqual(response.status_code, 403)
                self.assertIn("no role", response.json()["detail"])

    def test_it_refuses_a_deactivated_person(self):
        self.zhou.is_active = False
        self.zhou.save()
        self.assertEqual(self.get(GRIDS, {"bbox": EAST_BOX}).status_code, 401)

    def test_it_describes_itself_in_openapi(self):
        response = self.get(reverse("api-schema"))
        self.assertEqual(response.status_code, 200)
        for path in ("/api/v1/grids/", "/api/v1/areas/", "/api/v1/locate/"):
            self.assertContains(response, path)
        self.assertContains(response, "MultiPolygon")


class GridApiTestCase(ApiTestCase):
    def test_it_returns_current_grids_as_geojson(self):
        response = self.get(GRIDS)
        self.assertEqual(response.status_code, 200)
        body = response.json()
        self.assertEqual(body["type"], "FeatureCollection")
        self.assertEqual(body["left_out"], 0)
        codes = [f["properties"]["code"] for f in body["features"]]
        self.assertEqual(codes, sorted(UnitGrid.objects.current().values_list("code", flat=True)))
        first = body["features"][0]
        grid = self.east_grids[0]
        self.assertEqual(first["type"], "Feature")
        self.assertEqual(first["id"], grid.pk)
        self.assertEqual(first["geometry"]["type"], "MultiPolygon")
        self.assertEqual(
            first["properties"],
            {
                "code": grid.code,
                "community_code": "110101001001",
                "community_name": self.east.name,
                "area_m2": grid.area_m2,
                "land_use": "mixed",
                "management_level": 2,
                "responsible": "王芳",
                "deputy": None,
            },
        )
        third = body["features"][2]["properties"]
        self.assertEqual((third["responsible"], third["deputy"]), ("刘洋", "王芳"))

    def test_it_writes_each_feature_as_drf_would(self):
        grids = with_current_assignments(list(grid_features(UnitGrid.objects.current())))
        serializer = GridFeatureSerializer()
        for grid in grids:
            generic = super(GridFeatureSerializer, serializer).to_representation(grid)
            self.assertEqual(serializer.to_representation(grid), json.loads(json.dumps(generic)))

    def test_it_names_only_todays_workers(self):
        today = timezone.localdate()
        GridAssignment.objects.filter(grid=self.east_grids[0]).update(end=today)
        GridAssignment.objects.create(
            grid=self.east_grids[0],
            worker=self.liu,
            duty=GridAssignment.Duty.RESPONSIBLE,
            start=today + datetime.timedelta(days=1),
        )
        first = self.get(GRIDS, {"bbox": EAST_BOX}).json()["features"][0]["properties"]
        self.assertIsNone(first["responsible"])

    def test_it_leaves_out_grids_no_longer_in_force(self):
        old_ids = {grid.pk for grid in self.west_grids}
        grids_generate(community=self.west, cell_size=200, valid_from=timezone.localdate())
        features = self.get(GRIDS, {"bbox": WEST_BOX}).json()["features"]
        ids = {f["id"] for f in features}
        self.assertTrue(ids)
        self.assertFalse(ids & old_ids)
        self.assertEqual(
            ids,
            set(
                UnitGrid.objects.current().filter(community=self.west).values_list("id", flat=True)
            ),
        )

    def test_it_filters_by_bbox(self):
        east = self.get(GRIDS, {"bbox": EAST_BOX}).json()["features"]
        self.assertEqual(
            [f["properties"]["code"] for f in east], [grid.code for grid in self.east_grids]
        )
        west = self.get(GRIDS, {"bbox": WEST_BOX}).json()["features"]
        self.assertEqual(
            [f["properties"]["code"] for f in west], [grid.code for grid in self.west_grids]
        )
        self.assertEqual(self.get(GRIDS, {"bbox": NOWHERE_BOX}).json()["features"], [])

    def test_a_bbox_takes_grids_that_only_touch_it(self):
        # A box over the corner of the first east grid (its north-west corner).
        west, north = self.east_grids[0].boundary.extent[0], self.east_grids[0].boundary.extent[3]
        box = f"{west - 0.001},{north - 0.0001},{west + 0.0001},{north + 0.001}"
        codes = [f["properties"]["code"] for f in self.get(GRIDS, {"bbox": box}).json()["features"]]
        self.assertEqual(codes, [self.east_grids[0].code])

    def test_it_filters_by_community(self):
        features = self.get(GRIDS, {"community": self.west.code}).json()["features"]
        self.assertEqual(
            [f["properties"]["code"] for f in features], [grid.code for grid in self.west_grids]
        )

    def test_it_simplifies_boundaries_at_low_zoom(self):
        lon, lat = ROUND_CENTRE
        box = f"{lon - 0.01},{lat - 0.01},{lon + 0.01},{lat + 0.01}"

        def vertices(**zoom):
            features = self.get(GRIDS, {"bbox": box, **zoom}).json()["features"]
            self.assertEqual(len(features), UnitGrid.objects.filter(community=self.round).count())
            return sum(vertex_count(f["geometry"]) for f in features)

        full = vertices()
        self.assertEqual(vertices(zoom=16), full)
        self.assertEqual(vertices(zoom=19), full)
        self.assertLess(vertices(zoom=15), full)
        self.assertLess(vertices(zoom=12), vertices(zoom=15))
        # Never below a closed square per grid, whatever the zoom.
        self.assertGreaterEqual(
            vertices(zoom=3), 4 * len(self.get(GRIDS, {"bbox": box}).json()["features"])
        )

    def test_simplified_boundaries_stay_multipolygons_as_the_schema_says(self):
        # GEOS gives a simplified one-part MultiPolygon back as a Polygon.
        for url, params in ((GRIDS, {"bbox": EAST_BOX}), (AREAS, {})):
            for zoom in (3, 12, 15, None):
                with self.subTest(url=url, zoom=zoom):
                    query = {**params, **({} if zoom is None else {"zoom": zoom})}
                    features = self.get(url, query).json()["features"]
                    self.assertTrue(features)
                    types = {f["geometry"]["type"] for f in features}
                    self.assertEqual(types, {"MultiPolygon"})

    def test_it_lists_without_a_query_per_grid(self):
        self.assertEqual(self.get(GRIDS).status_code, 200)  # signed in, connection warm
        # Session, user, roles, grids, today's assignments with their workers.
        with self.assertNumQueries(5):
            self.assertEqual(self.client.get(GRIDS).status_code, 200)
        # More grids and more workers cost no more queries.
        extra = Area.objects.create(
            code="110101001004",
            name="新社区",
            level=Area.Level.COMMUNITY,
            parent=self.street,
            boundary=self.east.boundary.clone(),
        )
        for index, grid in enumerate(grids_generate(community=extra, cell_size=50)):
            worker = make_person(f"worker{index}", Role.GRID_WORKER)
            GridAssignment.objects.create(grid=grid, worker=worker, duty="responsible")
            GridAssignment.objects.create(grid=grid, worker=self.wang, duty="deputy")
        with self.assertNumQueries(5):
            features = self.client.get(GRIDS).json()["features"]
        self.assertGreater(len(features), 30)
        self.assertEqual(features[-1]["properties"]["deputy"], "王芳")

    @override_settings(MAP_MAX_FEATURES=5)
    def test_it_caps_a_response_and_says_how_many_were_left_out(self):
        body = self.get(GRIDS, {"bbox": EAST_BOX}).json()
        self.assertEqual(len(body["features"]), 5)
        self.assertEqual(body["left_out"], len(self.east_grids) - 5)
        self.assertEqual(
            [f["properties"]["code"] for f in body["features"]],
            [grid.code for grid in self.east_grids[:5]],
        )

    @override_settings(MAP_MAX_FEATURES=5)
    def test_it_wants_a_bbox_when_more_grids_match_than_a_response_holds(self):
        detail = self.assertBadRequest(self.get(GRIDS), "bbox")
        total = UnitGrid.objects.current().count()
        self.assertEqual(
            detail, f"{total} features match, more than the 5 one response holds: give a bbox."
        )
        # Few enough without one: no bbox needed.
        self.assertEqual(self.get(GRIDS, {"community": self.west.code}).status_code, 200)

    def test_bad_parameters_are_400_naming_the_field(self):
        cases = [
            ({"bbox": "116.4,39.9,116.5"}, "bbox", "Give four numbers"),
            ({"bbox": "a,b,c,d"}, "bbox", "Give four numbers"),
            ({"bbox": "116.4,39.9,nan,40"}, "bbox", "Give four numbers"),
            ({"bbox": "116.5,39.9,116.4,40"}, "bbox", "less than its maximum"),
            ({"bbox": "-200,39.9,116.4,40"}, "bbox", "within -180..180"),
            ({"zoom": "near"}, "zoom", "valid integer"),
            ({"zoom": "23"}, "zoom", "less than or equal to 22"),
            ({"zoom": "-1"}, "zoom", "greater than or equal to 0"),
            ({"community": "999"}, "community", "no community with this code"),
            ({"community": self.street.code}, "community", "no community with this code"),
            (
                {"box": EAST_BOX},
                "box",
                "Unknown parameter; this endpoint takes bbox, code, community, zoom.",
            ),
        ]
        for params, field, message in cases:
            with self.subTest(params=params):
                self.assertIn(message, self.assertBadRequest(self.get(GRIDS, params), field))


class AreaApiTestCase(ApiTestCase):
    def test_it_returns_areas_with_their_parent(self):
        body = self.get(AREAS).json()
        self.assertEqual(body["type"], "FeatureCollection")
        by_code = {f["properties"]["code"]: f["properties"] for f in body["features"]}
        self.assertEqual(set(by_code), set(Area.objects.values_list("code", flat=True)))
        self.assertEqual(
            by_code["110101001002"],
            {
                "code": "110101001002",
                "name": "西社区",
                "level": "community",
                "parent_code": "110101001",
            },
        )
        self.assertIsNone(by_code["110101"]["parent_code"])

    def test_it_filters_by_level_and_bbox(self):
        features = self.get(AREAS, {"level": "community", "bbox": WEST_BOX}).json()["features"]
        self.assertEqual([f["properties"]["code"] for f in features], ["110101001002"])
        features = self.get(AREAS, {"level": "street"}).json()["features"]
        self.assertEqual([f["properties"]["code"] for f in features], ["110101001"])

    def test_it_simplifies_boundaries_at_low_zoom(self):
        def vertices(**zoom):
            body = self.get(AREAS, {"level": "community", **zoom}).json()
            (feature,) = [f for f in body["features"] if f["properties"]["code"] == self.round.code]
            return vertex_count(feature["geometry"])

        self.assertEqual(vertices(), 257)
        self.assertEqual(vertices(zoom=16), 257)
        self.assertLess(vertices(zoom=14), 257)
        self.assertLess(vertices(zoom=11), vertices(zoom=14))

    def test_bad_parameters_are_400_naming_the_field(self):
        detail = self.assertBadRequest(self.get(AREAS, {"level": "planet"}), "level")
        self.assertIn("not a valid choice", detail)
        self.assertBadRequest(self.get(AREAS, {"bbox": "1,2,3,4,5"}), "bbox")


class AreaSearchApiTestCase(ApiTestCase):
    """``q``: the report page's place finder asks it for a street or community."""

    def codes(self, **params):
        body = self.get(AREAS, params).json()
        return [f["properties"]["code"] for f in body["features"]], body["left_out"]

    def test_it_finds_areas_by_part_of_their_name_those_beginning_with_it_first(self):
        # 社区001 begins with it; 西社区 and 圆社区 only contain it.
        self.assertEqual(
            self.codes(q="社区"), (["110101001001", "110101001002", "110101001003"], 0)
        )
        self.assertEqual(self.codes(q="圆"), (["110101001003"], 0))

    def test_the_exact_name_or_code_comes_first_then_larger_areas(self):
        self.assertEqual(self.codes(q="西社区"), (["110101001002"], 0))
        # Both names begin with 东: the district before its street.
        self.assertEqual(self.codes(q="东"), (["110101", "110101001"], 0))
        # The street's own code, then the communities coded from it.
        self.assertEqual(
            self.codes(q="110101001"),
            (["110101001", "110101001001", "110101001002", "110101001003"], 0),
        )

    def test_it_combines_with_the_level(self):
        self.assertEqual(self.codes(q="1101", level="street"), (["110101001"], 0))

    def test_a_search_answers_with_a_short_list_and_says_how_many_more(self):
        with mock.patch("grids.api.SEARCH_RESULTS", 2):
            self.assertEqual(self.codes(q="社区"), (["110101001001", "110101001002"], 1))

    def test_nothing_found_is_an_empty_collection(self):
        self.assertEqual(self.codes(q="不存在的地方"), ([], 0))

    def test_a_blank_or_long_query_is_400_naming_it(self):
        self.assertBadRequest(self.get(AREAS, {"q": " "}), "q")
        self.assertBadRequest(self.get(AREAS, {"q": "街" * 51}), "q")


class GridSearchApiTestCase(ApiTestCase):
    """``code``: the place finder asks it when the text is longer than a community code."""

    def codes(self, **params):
        body = self.get(GRIDS, params).json()
        return [f["properties"]["code"] for f in body["features"]], body["left_out"]

    def test_it_finds_grids_by_the_beginning_of_their_code(self):
        grid = self.east_grids[1]
        self.assertEqual(self.codes(code=grid.code), ([grid.code], 0))
        self.assertEqual(
            self.codes(code=self.east.code),
            (sorted(g.code for g in self.east_grids), 0),
        )
        self.assertEqual(self.codes(code="999"), ([], 0))

    def test_a_search_answers_with_a_short_list_and_says_how_many_more(self):
        with mock.patch("grids.api.SEARCH_RESULTS", 2):
            codes, left_out = self.codes(code=self.west.code)
        self.assertEqual(codes, sorted(g.code for g in self.west_grids)[:2])
        self.assertEqual(left_out, len(self.west_grids) - 2)

    def test_a_code_that_is_not_digits_is_400_naming_it(self):
        detail = self.assertBadRequest(self.get(GRIDS, {"code": "11x"}), "code")
        self.assertIn("digits only", detail)


class LocateApiTestCase(ApiTestCase):
    def test_it_finds_the_grid_its_areas_and_workers(self):
        grid = self.east_grids[2]
        centre = grid.boundary.point_on_surface
        response = self.get(LOCATE, {"lon": centre.x, "lat": centre.y})
        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            response.json(),
            {
                "covered": True,
                "lon": centre.x,
                "lat": centre.y,
                "grid": {"id": grid.pk, "code": grid.code},
                "community": {"code": "110101001001", "name": self.east.name},
                "street": {"code": "110101001", "name": "东华门街道"},
                "district": {"code": "110101", "name": "东城区"},
                "worker": "刘洋",
                "deputy": "王芳",
                "detail": None,
            },
        )

    def test_a_grid_without_a_worker_says_so(self):
        lon, lat = ROUND_CENTRE
        body = self.get(LOCATE, {"lon": lon, "lat": lat}).json()
        self.assertTrue(body["covered"])
        self.assertEqual(body["community"]["code"], self.round.code)
        self.assertIsNone(body["worker"])

    def test_a_point_outside_every_grid_is_outside_coverage_not_an_error(self):
        response = self.get(LOCATE, {"lon": 116.5, "lat": 39.95})
        self.assertEqual(response.status_code, 200)
        body = response.json()
        self.assertIs(body["covered"], False)
        self.assertIsNone(body["grid"])
        self.assertIsNone(body["worker"])
        self.assertEqual(
            body["detail"], "Outside coverage: no current unit grid contains this point."
        )

    def test_bad_parameters_are_400_naming_the_field(self):
        cases = [
            ({"lat": 39.9}, "lon", "required"),
            ({"lon": 116.4}, "lat", "required"),
            ({"lon": "east", "lat": 39.9}, "lon", "valid number"),
            ({"lon": 116.4, "lat": 91}, "lat", "less than or equal to 90"),
            ({"lon": -181, "lat": 39.9}, "lon", "greater than or equal to -180"),
            ({"lon": "nan", "lat": 39.9}, "lon", "valid number"),
            ({"lon": 116.4, "lat": 39.9, "at": "now"}, "at", "Unknown parameter"),
        ]
        for params, field, message in cases:
            with self.subTest(params=params):
                self.assertIn(message, self.assertBadRequest(self.get(LOCATE, params), field))
