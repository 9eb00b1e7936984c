"""The map's layers on either database: who sees which cases, the filters, the counts per
area, the heat cells and the popup's summary, against figures worked out by hand."""

import datetime
import json

from django.urls import reverse
from django.utils import timezone

from cases.models import Case, CaseEvent, Stage
from maps.queries import case_light
from org.models import Role
from tests.base import BaseTestCase
from tests.maps.base import MapWorldMixin, make_case
from tests.maps.helpers import area_counts, feature_ids, features


class MapTestCase(MapWorldMixin, BaseTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.make_map_world()

    def as_user(self, user):
        self.client.force_login(user)
        return self.client


class ScopeTestCase(MapTestCase):
    def test_it_shows_every_case_to_the_centre_supervisors_and_administrators(self):
        for role in (Role.DISPATCHER, Role.SHIFT_LEADER, Role.SUPERVISOR, Role.ADMINISTRATOR):
            with self.subTest(role=role):
                self.assertEqual(feature_ids(self.as_user(self.personas[role])), self.everyone)

    def test_an_officer_sees_only_the_departments_cases(self):
        self.assertEqual(feature_ids(self.as_user(self.chen)), self.ids("a", "b", "d"))

    def test_a_grid_worker_sees_only_the_cases_of_their_grids(self):
        # Wang: responsible for east grids 0 and 1, deputy of east grid 2.
        self.assertEqual(feature_ids(self.as_user(self.wang)), self.ids("a", "b", "f"))
        self.assertEqual(feature_ids(self.as_user(self.liu)), self.ids("c", "d", "f"))

    def test_the_counts_per_area_follow_the_scope(self):
        counts = area_counts(self.as_user(self.chen), zoom=12)
        self.assertEqual(
            counts,
            {self.east.code: (2, 0, 1), self.west.code: (1, 0, 0), self.round.code: (0, 0, 0)},
        )
        counts = area_counts(self.as_user(self.wang), zoom=10)
        self.assertEqual(counts, {self.street.code: (3, 1, 1)})

    def test_someone_without_a_role_gets_nothing(self):
        client = self.as_user(self.nobody)
        urls = [
            reverse("maps:features") + "?zoom=16&bbox=116.38,39.90,116.43,39.93",
            reverse("maps:heat") + "?zoom=16&bbox=116.38,39.90,116.43,39.93",
            reverse("maps:tile", args=(14, 13489, 6206)),
            reverse("maps:version"),
            reverse("maps:case", args=(self.a.pk,)),
        ]
        for url in urls:
            with self.subTest(url=url):
                response = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
                self.assertEqual(response.status_code, 403)
                self.assertIn("no role", response.json()["detail"])
        self.assertRedirects(client.get(reverse("maps:map")), reverse("no_role"), 302, 403)

    def test_a_visitor_must_log_in(self):
        self.client.logout()
        response = self.client.get(reverse("maps:features"), {"zoom": 16, "bbox": "1,1,2,2"})
        self.assertEqual(response.status_code, 401)
        self.assertRedirects(
            self.client.get(reverse("maps:map")),
            reverse("login") + "?next=" + reverse("maps:map"),
            fetch_redirect_response=False,
        )

    def test_the_popup_summary_is_only_for_people_who_may_see_the_case(self):
        response = self.as_user(self.zhou).get(reverse("maps:case", args=(self.c.pk,)))
        summary = response.json()
        self.assertEqual(summary["reference"], self.c.reference)
        self.assertEqual(summary["department"], "园林绿化局")
        self.assertEqual(summary["light"], "red")
        self.assertEqual(summary["url"], reverse("cases:detail", args=(self.c.pk,)))
        self.assertEqual(
            self.as_user(self.chen).get(reverse("maps:case", args=(self.c.pk,))).status_code, 404
        )
        self.assertEqual(
            self.as_user(self.wang).get(reverse("maps:case", args=(self.f.pk,))).status_code, 200
        )

    def test_every_role_opens_the_map_page_and_finds_it_in_the_header(self):
        for role, person in self.personas.items():
            with self.subTest(role=role):
                response = self.as_user(person).get(reverse("maps:map"))
                self.assertEqual(response.status_code, 200)
                self.assertContains(response, f'href="{reverse("maps:map")}"')
                self.assertContains(response, 'id="case-map-config"')


class FilterTestCase(MapTestCase):
    def shown(self, **filters):
        return feature_ids(self.as_user(self.zhou), **filters)

    def test_it_filters_by_stage(self):
        self.assertEqual(self.shown(stage="open"), self.ids("a", "b", "c", "e", "f"))
        self.assertEqual(self.shown(stage="closed"), self.ids("d"))
        self.assertEqual(self.shown(stage=["checking", "reported"]), self.ids("e", "f"))

    def test_it_filters_by_the_category_tree(self):
        self.assertEqual(self.shown(category="C"), self.ids("c"))
        self.assertEqual(self.shown(category="E01"), self.ids("a", "b", "d", "e", "f"))
        self.assertEqual(self.shown(category="E0104"), self.ids("f"))

    def test_it_filters_by_department_and_source(self):
        self.assertEqual(self.shown(department=self.sanitation.pk), self.ids("a", "b", "d"))
        self.assertEqual(self.shown(source="hotline"), self.ids("b", "e"))

    def test_it_filters_by_the_reporting_period(self):
        today = timezone.localdate()
        week_ago = (today - datetime.timedelta(days=10)).isoformat()
        month_ago = (today - datetime.timedelta(days=30)).isoformat()
        self.assertEqual(self.shown(since=week_ago), self.everyone - self.ids("d"))
        self.assertEqual(self.shown(until=month_ago), self.ids("d"))
        self.assertEqual(
            self.shown(since=today.isoformat(), until=today.isoformat()),
            self.everyone - self.ids("d"),
        )

    def test_it_filters_overdue_cases(self):
        self.assertEqual(self.shown(overdue="on"), self.ids("c", "f"))
        self.assertEqual(
            self.shown(overdue="on", department=self.landscaping.pk, category="E"), self.ids("f")
        )

    def test_the_counts_per_area_are_the_hand_made_ones(self):
        client = self.as_user(self.zhou)
        self.assertEqual(
            area_counts(client, zoom=12),
            {self.east.code: (3, 1, 1), self.west.code: (2, 1, 0), self.round.code: (1, 0, 0)},
        )
        self.assertEqual(area_counts(client, zoom=10), {self.street.code: (6, 2, 1)})
        self.assertEqual(
            area_counts(client, zoom=13, stage="open", department=self.sanitation.pk),
            {self.east.code: (2, 0, 1), self.west.code: (0, 0, 0), self.round.code: (0, 0, 0)},
        )

    def test_zoomed_out_a_case_outside_every_community_is_a_point_beside_the_counts(self):
        from django.contrib.gis.geos import Point

        outside = make_case(point=Point(116.4100, 39.9250, srid=4326))
        self.assertIsNone(outside.community)
        client = self.as_user(self.zhou)
        for zoom in (12, 10):
            with self.subTest(zoom=zoom):
                body = features(client, zoom=zoom).json()
                points = [f for f in body["features"] if "level" not in f["properties"]]
                self.assertEqual([f["id"] for f in points], [outside.pk])
                self.assertEqual(points[0]["geometry"]["type"], "Point")
        # The counts are unchanged: it is in none of them.
        self.assertEqual(area_counts(client, zoom=10), {self.street.code: (6, 2, 1)})

    def test_the_heat_cells_add_up_to_the_cases_shown(self):
        for person, expected in ((self.zhou, 6), (self.chen, 3), (self.wang, 3)):
            response = self.as_user(person).get(
                reverse("maps:heat"), {"zoom": 15, "bbox": "116.385,39.905,116.430,39.930"}
            )
            cells = response.json()["cells"]
            self.assertEqual(sum(cell[2] for cell in cells), expected, person)
        response = self.as_user(self.zhou).get(
            reverse("maps:heat"),
            {"zoom": 15, "bbox": "116.385,39.905,116.430,39.930", "overdue": "on"},
        )
        self.assertEqual(sum(cell[2] for cell in response.json()["cells"]), 2)

    def test_bad_filters_are_refused_with_a_clear_message(self):
        client = self.as_user(self.zhou)
        cases = [
            ({"stage": "lost"}, "stage"),
            ({"since": "2026-02-01", "until": "2026-01-01"}, "until"),
            ({"since": "yesterday"}, "since"),
            ({"category": "X99"}, "category"),
            ({"bbox": "1,2,3"}, "bbox"),
            ({"zoom": "far"}, "zoom"),
        ]
        for params, field in cases:
            with self.subTest(params=params):
                response = features(client, **params)
                self.assertEqual(response.status_code, 400)
                self.assertEqual(response.json()["field"], field)
                self.assertTrue(response.json()["detail"])

    def test_a_crowded_box_says_how_many_cases_it_left_out(self):
        with self.settings(MAP_MAX_FEATURES=4):
            body = features(self.as_user(self.zhou)).json()
        self.assertEqual((len(body["features"]), body["left_out"]), (4, 2))


class LightTestCase(MapTestCase):
    def test_the_sql_light_agrees_with_the_case_model(self):
        now = timezone.now()
        # A deadline no later than the filing: red at once, as Case.light() says.
        make_case(point=self.a.point, filed_at=now, deadline=now, department=self.sanitation)
        for case in Case.objects.annotate(sql_light=case_light(now)):
            with self.subTest(case=case.pk, stage=case.stage):
                self.assertEqual(case.sql_light, case.light(now))
        lights = dict(Case.objects.annotate(x=case_light(now)).values_list("pk", "x"))
        self.assertEqual(
            [lights[self.a.pk], lights[self.b.pk], lights[self.c.pk], lights[self.d.pk]],
            ["green", "yellow", "red", None],
        )

    def test_the_light_moves_with_the_clock(self):
        later = self.a.filed_at + (self.a.deadline - self.a.filed_at) * 0.85
        light = Case.objects.filter(pk=self.a.pk).annotate(x=case_light(later)).get().x
        self.assertEqual(light, "yellow")
        self.assertEqual(self.a.light(later), "yellow")


class PropertiesTestCase(MapTestCase):
    def test_each_case_carries_its_stage_light_and_position(self):
        body = features(self.as_user(self.zhou)).json()
        by_id = {f["properties"]["id"]: f for f in body["features"]}
        self.assertEqual(body["level"], "case")
        a = by_id[self.a.pk]
        self.assertEqual(
            (a["properties"]["stage"], a["properties"]["light"]), (Stage.DISPATCHED, "green")
        )
        self.assertAlmostEqual(a["geometry"]["coordinates"][0], self.a.point.x, places=6)
        self.assertAlmostEqual(a["geometry"]["coordinates"][1], self.a.point.y, places=6)
        self.assertEqual(by_id[self.b.pk]["properties"]["light"], "yellow")
        self.assertIsNone(by_id[self.e.pk]["properties"]["light"])
        json.dumps(body)  # plain JSON all through


class RollupCountsTestCase(MapTestCase):
    """Counts of every stage per area come from the dashboard's roll-ups for people who
    see every case; they equal the live counts once the roll-ups caught up."""

    QUERIES = [
        {"zoom": 12},
        {"zoom": 10},
        {"zoom": 12, "category": "E01"},
        {"zoom": 12, "department": "sanitation"},
        {"zoom": 12, "since": "week"},
        {"zoom": 12, "until": "month"},
    ]

    def params(self, query: dict) -> dict:
        today = timezone.localdate()
        values = {
            "sanitation": self.sanitation.pk,
            "week": (today - datetime.timedelta(days=10)).isoformat(),
            "month": (today - datetime.timedelta(days=30)).isoformat(),
        }
        return {key: values.get(value, value) for key, value in query.items()}

    def test_they_agree_with_the_live_counts_and_follow_the_catch_up(self):
        from stats import rollup

        client = self.as_user(self.zhou)
        live = [area_counts(client, **self.params(query)) for query in self.QUERIES]
        self.assertEqual(live[0], {self.east.code: (3, 1, 1), self.west.code: (2, 1, 0),
                                   self.round.code: (1, 0, 0)})  # fmt: skip
        rollup.rebuild()
        for query, expected in zip(self.QUERIES, live, strict=True):
            with self.subTest(**query):
                self.assertEqual(area_counts(client, **self.params(query)), expected)
        # A new case: red and yellow are live, the totals move when the roll-ups catch up.
        new = make_case(point=self.a.point, department=self.sanitation)
        CaseEvent.objects.create(case=new, action="report", to_stage=Stage.REPORTED)
        self.assertEqual(area_counts(client, zoom=10), {self.street.code: (6, 2, 1)})
        rollup.catch_up()
        self.assertEqual(area_counts(client, zoom=10), {self.street.code: (7, 2, 1)})
        # An officer's counts stay live (the roll-ups know departments, not every rule of
        # what a person may see): the new case shows at once.
        make_case(point=self.a.point, department=self.sanitation)
        self.assertEqual(
            area_counts(self.as_user(self.chen), zoom=10), {self.street.code: (5, 0, 1)}
        )
