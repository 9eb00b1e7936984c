"""Vector tiles (PostGIS): decoded with a small protobuf reader and compared with the
hand-made cases: which cases, their properties and positions, and the counts per area."""

import unittest

from django.contrib.gis.geos import Point
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.models import Stage
from tests.maps.base import centre_of, make_case
from tests.maps.helpers import position_in_tile, tile_of
from tests.maps.mvt import decode
from tests.maps.test_layers import MapTestCase

POSTGIS = connection.vendor == "postgresql"


@unittest.skipUnless(POSTGIS, "vector tiles need PostGIS")
class VectorTileTestCase(MapTestCase):
    def tile(self, user, z, x, y, **filters) -> dict:
        self.client.force_login(user)
        response = self.client.get(reverse("maps:tile", args=(z, x, y)), filters)
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(response["Content-Type"], "application/vnd.mapbox-vector-tile")
        return decode(response.content)

    def cases_in_tiles(self, user, z=14, **filters) -> dict[int, dict]:
        """Every case drawn in the tiles holding the world's cases, by id."""
        cases = [self.a, self.b, self.c, self.d, self.e, self.f]
        found = {}
        for x, y in sorted({tile_of(case.point, z) for case in cases}):
            layers = self.tile(user, z, x, y, **filters)
            for feature in layers.get("cases", {"features": []})["features"]:
                found[feature["properties"]["id"]] = {**feature, "tile": (x, y)}
        return found

    def test_a_tile_is_built_with_a_plan_for_its_own_box(self):
        self.client.force_login(self.zhou)
        x, y = tile_of(self.a.point, 14)
        url = reverse("maps:tile", args=(14, x, y))
        with CaptureQueriesContext(connection) as queries:
            self.assertEqual(self.client.get(url)["X-Map-Cache"], "miss")
        sql = [q["sql"] for q in queries.captured_queries]
        built = next(i for i, s in enumerate(sql) if "ST_AsMVT" in s)
        self.assertIn("SET LOCAL plan_cache_mode = force_custom_plan", sql[:built])
        # A tile from the cache plans nothing.
        with CaptureQueriesContext(connection) as queries:
            self.assertEqual(self.client.get(url)["X-Map-Cache"], "hit")
        self.assertFalse(any("plan_cache_mode" in q["sql"] for q in queries.captured_queries))

    def test_the_tiles_hold_what_each_role_may_see(self):
        self.assertEqual(set(self.cases_in_tiles(self.zhou)), self.everyone)
        self.assertEqual(set(self.cases_in_tiles(self.li)), self.everyone)
        self.assertEqual(set(self.cases_in_tiles(self.chen)), self.ids("a", "b", "d"))
        self.assertEqual(set(self.cases_in_tiles(self.wang)), self.ids("a", "b", "f"))
        self.assertEqual(set(self.cases_in_tiles(self.liu)), self.ids("c", "d", "f"))

    def test_each_feature_carries_the_case_and_sits_where_the_case_is(self):
        found = self.cases_in_tiles(self.zhou, z=16)
        a = found[self.a.pk]
        self.assertEqual(a["type"], "Point")
        self.assertEqual(
            {k: a["properties"][k] for k in ("stage", "light", "urgency", "supervision")},
            {"stage": Stage.DISPATCHED, "light": "green", "urgency": "normal", "supervision": 0},
        )
        self.assertEqual(found[self.b.pk]["properties"]["light"], "yellow")
        self.assertEqual(found[self.c.pk]["properties"]["light"], "red")
        self.assertNotIn("light", found[self.d.pk]["properties"])  # NULL: no clock runs
        x, y = a["tile"]
        expected = position_in_tile(centre_of(self.east_grids[0]), 16, x, y)
        (got,) = a["points"]
        self.assertAlmostEqual(got[0], expected[0], delta=1)
        self.assertAlmostEqual(got[1], expected[1], delta=1)

    def test_the_filters_apply_to_the_tiles(self):
        self.assertEqual(
            set(self.cases_in_tiles(self.zhou, stage="open")), self.everyone - self.ids("d")
        )
        self.assertEqual(set(self.cases_in_tiles(self.zhou, overdue="on")), self.ids("c", "f"))
        self.assertEqual(
            set(self.cases_in_tiles(self.zhou, category="E", source="patrol")),
            self.ids("a", "d", "f"),
        )

    def test_zoomed_out_tiles_count_cases_per_area(self):
        x, y = tile_of(self.east.boundary.centroid, 12)
        areas = self.tile(self.zhou, 12, x, y)["areas"]["features"]
        counts = {
            f["properties"]["code"]: (
                f["properties"]["n"],
                f["properties"]["red"],
                f["properties"]["yellow"],
            )
            for f in areas
        }
        self.assertEqual(
            counts,
            {self.east.code: (3, 1, 1), self.west.code: (2, 1, 0), self.round.code: (1, 0, 0)},
        )
        self.assertTrue(all(f["type"] == "Polygon" for f in areas))
        x, y = tile_of(self.east.boundary.centroid, 10)
        (street,) = self.tile(self.chen, 10, x, y, stage="open")["areas"]["features"]
        self.assertEqual(
            {k: street["properties"][k] for k in ("code", "level", "n", "red", "yellow")},
            {"code": self.street.code, "level": "street", "n": 2, "red": 0, "yellow": 1},
        )

    def test_open_cases_are_read_from_the_covering_index_alone(self):
        """A tile's reads of the open cases, counted per area or drawn one by one, are
        index-only scans of maps_case_open_areas: every column they touch, the light's
        clock included, is in the index. Denied every other way to read the table, the
        planner falls back to reading it when a column is missing, which at a million cases
        is a page of the table per case (zoom-10 counts 9 -> 150 ms)."""
        self.client.force_login(self.zhou)
        statements = []
        for z, place in ((10, self.east.boundary.centroid), (14, self.a.point)):
            x, y = tile_of(place, z)
            with CaptureQueriesContext(connection) as queries:
                response = self.client.get(reverse("maps:tile", args=(z, x, y)), {"stage": "open"})
            self.assertEqual(response.status_code, 200)
            statements += [q["sql"] for q in queries.captured_queries if '"cases_case"' in q["sql"]]
        # Zoomed out: the counts, and the cases outside every community (in no count);
        # zoomed in: the cases, both parts in one statement.
        self.assertEqual(len(statements), 3, statements)
        # The zoomed-out tile's cases outside every community are few by definition and
        # found through the community index (IS NULL; 0.03 ms at a million cases): not
        # a read of the open cases per area, which this test is about.
        outside = statements.pop(1)
        self.assertIn('"community_id" IS NULL', outside)
        self.assertNotIn("UNION ALL", outside)
        with connection.cursor() as cursor:
            for setting in ("enable_seqscan", "enable_bitmapscan", "enable_indexscan"):
                cursor.execute(f"SET LOCAL {setting} = off")
            for sql in statements:
                cursor.execute(f"EXPLAIN {sql}")
                scans = [row[0].strip() for row in cursor.fetchall() if " on cases_case" in row[0]]
                with self.subTest(sql=sql[:120]):
                    self.assertTrue(
                        any("Index Only Scan using maps_case_open_areas" in s for s in scans)
                    )
                    # Cases outside every community, a tile's second part, may come through
                    # the point index instead; no read goes to the table through this one.
                    for scan in scans:
                        self.assertNotRegex(
                            scan, "Seq Scan|Bitmap Heap Scan|Index Scan using maps_case_open_areas"
                        )

    def test_a_case_outside_every_community_is_drawn_too(self):
        # Tiles read covered cases through the communities meeting them; the rest apart.
        outside = make_case(point=Point(116.4100, 39.9250, srid=4326))
        self.assertIsNone(outside.community)
        x, y = tile_of(outside.point, 14)
        layers = self.tile(self.zhou, 14, x, y, stage="open")
        self.assertIn(outside.pk, {f["properties"]["id"] for f in layers["cases"]["features"]})
        # Zoomed out, it is in no area's count: drawn as itself beside the counts.
        for z in (12, 10):
            with self.subTest(zoom=z):
                x, y = tile_of(outside.point, z)
                layers = self.tile(self.zhou, z, x, y, stage="open")
                self.assertEqual(
                    [f["properties"]["id"] for f in layers["cases"]["features"]], [outside.pk]
                )
                self.assertTrue(layers["areas"]["features"])

    def test_a_tile_off_the_world_is_not_found(self):
        self.client.force_login(self.zhou)
        self.assertEqual(self.client.get(reverse("maps:tile", args=(3, 8, 0))).status_code, 404)
        self.assertEqual(self.client.get(reverse("maps:tile", args=(25, 0, 0))).status_code, 404)


@unittest.skipIf(POSTGIS, "SpatiaLite only")
class NoVectorTilesOnSpatiaLiteTestCase(MapTestCase):
    def test_it_sends_the_page_to_geojson_instead(self):
        self.client.force_login(self.zhou)
        response = self.client.get(reverse("maps:tile", args=(14, 13489, 6206)))
        self.assertEqual(response.status_code, 404)
        self.assertIn("GeoJSON", response.json()["detail"])
        config = self.client.get(reverse("maps:map")).context["map_config"]
        self.assertEqual(config["mode"], "geojson")
