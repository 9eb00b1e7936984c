"""GET requests and requests/<id>: filters, dates, statuses, formats, and no personal data."""

import datetime
import json
from urllib.parse import quote

from django.utils import timezone

from cases.models import Case, Stage
from cases.workflow import perform
from open311.models import ServiceRequest
from open311.services import ReportInput, request_create
from org.models import Role
from tests.base import make_person
from tests.cases.base import photo
from tests.open311.base import BASE, Open311TestCase, children

REQUEST_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]
# Well outside the test community (and every grid): the Summer Palace.
OUTSIDE = (39.9999, 116.2755)


def posted(reporter, **values) -> ServiceRequest:
    """A report as an Open311 client sends it, through the service function."""
    form = {
        "service_code": "E0102",
        "lat": "39.9105",
        "long": "116.4005",
        "description": "路边有一堆垃圾",
        "first_name": "四",
        "last_name": "李",
        "phone": "13911112222",
        "email": "zhang@example.org",
        **values,
    }
    photos = form.pop("photos", [])
    return request_create(
        data=ReportInput(values={k: [v] for k, v in form.items()}, photos=photos),
        reporter=reporter,
    )


class RequestsTestCase(Open311TestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.app = make_person("city-app", Role.SYSTEM, full_name="市民热线应用")

    def setUp(self):
        self.verifying = self.case_in(Stage.VERIFYING)
        self.in_progress = self.case_in(Stage.IN_PROGRESS)
        self.closed = self.case_in(Stage.CHECKING)
        perform(self.closed, "check_pass", self.wang, photos=[photo()])
        self.old = self.report(description="三个月前的垃圾")
        Case.objects.filter(pk=self.old.pk).update(
            reported_at=timezone.now() - datetime.timedelta(days=100)
        )
        self.web = posted(self.app, photos=[photo()], media_url="https://example.org/a.jpg").case
        self.far = posted(self.app, lat=str(OUTSIDE[0]), long=str(OUTSIDE[1])).case

    def ids(self, **params) -> list[str]:
        return [r["service_request_id"] for r in self.get_json("requests", **params)]

    # ------------------------------------------------------------------ shape

    def test_it_is_a_bare_array_of_requests_in_spec_order(self):
        requests = self.get_json("requests")
        self.assertIsInstance(requests, list)
        for request in requests:
            self.assertEqual(list(request), REQUEST_FIELDS)
            self.assertIsInstance(request["service_request_id"], str)
            self.assertIsInstance(request["lat"], float)
            self.assertIsInstance(request["long"], float)
            self.assertTrue(request["address"])
            for name in ("requested_datetime", "updated_datetime"):
                self.assertRegex(request[name], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

    def test_its_xml_is_service_requests_of_request(self):
        root = self.get_xml("requests")
        self.assertEqual(root.tag, "service_requests")
        self.assertEqual(set(children(root)), {"request"})
        self.assertEqual(len(root), len(self.get_json("requests")))
        for request in root:
            self.assertEqual(children(request), REQUEST_FIELDS)
        web = next(r for r in root if r.find("service_request_id").text == str(self.web.pk))
        self.assertEqual(web.find("status").text, "open")
        self.assertIsNone(web.find("zipcode").text)  # null is an empty element
        self.assertEqual(float(web.find("lat").text), 39.9105)

    def test_one_request_has_the_list_shape(self):
        one = self.get_json(f"requests/{self.in_progress.pk}")
        self.assertEqual(len(one), 1)
        self.assertEqual(list(one[0]), REQUEST_FIELDS)
        self.assertEqual(one[0]["service_request_id"], str(self.in_progress.pk))
        self.assertEqual(one[0]["agency_responsible"], self.sanitation.name)
        self.assertEqual(one[0]["expected_datetime"][-1], "Z")
        root = self.get_xml(f"requests/{self.in_progress.pk}")
        self.assertEqual(root.tag, "service_requests")
        self.assertEqual(children(root), ["request"])

    def test_an_unknown_request_is_404(self):
        for missing in ("999999", "abc", "9" * 30, "١٢"):
            errors = self.get_json(f"requests/{missing}", expect=404)
            self.assertEqual(errors, [{"code": 404, "description": errors[0]["description"]}])
            self.assertEqual(self.get_xml(f"requests/{missing}", expect=404).tag, "errors")

    def test_nothing_found_is_an_empty_list_not_404(self):
        self.assertEqual(self.get_json("requests", service_code="C0101"), [])
        root = self.get_xml("requests", service_code="C0101")
        self.assertEqual((root.tag, len(root)), ("service_requests", 0))

    # ------------------------------------------------------------------ filters

    def test_the_default_is_the_last_90_days_newest_first(self):
        ids = self.ids()
        self.assertNotIn(str(self.old.pk), ids)
        self.assertEqual(ids[0], str(self.far.pk))
        expected = [self.far, self.web, self.closed, self.in_progress, self.verifying]
        self.assertEqual(ids, [str(c.pk) for c in expected])

    def test_a_start_date_reaches_further_back(self):
        start = (timezone.now() - datetime.timedelta(days=120)).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.assertIn(str(self.old.pk), self.ids(start_date=start))

    def test_a_window_longer_than_90_days_is_not_refused(self):
        ids = self.ids(start_date="2000-01-01T00:00:00Z", end_date="2099-12-31T23:59:59Z")
        self.assertEqual(len(ids), 6)

    def test_an_end_date_alone_looks_90_days_back_from_it(self):
        end = timezone.now() - datetime.timedelta(days=95)
        self.assertEqual(self.ids(end_date=end.isoformat()), [str(self.old.pk)])

    def test_ids_override_every_other_filter_and_all_come_back(self):
        wanted = f"{self.old.pk},{self.closed.pk}, {self.web.pk}"
        ids = self.ids(service_request_id=wanted, status="open", service_code="C0101")
        self.assertEqual(sorted(ids), sorted(str(c.pk) for c in (self.old, self.closed, self.web)))
        for bad in ("1,x", "9" * 30):
            errors = self.get_json("requests", expect=400, service_request_id=bad)
            self.assertEqual(errors[0]["code"], 400)

    def test_service_codes_are_a_comma_list(self):
        ids = self.ids(service_code="C0101,E0102")
        self.assertEqual(len(ids), 5)
        self.assertEqual(self.ids(service_code="C0101"), [])

    def test_status_filters_open_and_closed_case_insensitively(self):
        self.assertEqual(self.ids(status="closed"), [str(self.closed.pk)])
        self.assertNotIn(str(self.closed.pk), self.ids(status="OPEN"))
        self.assertEqual(len(self.ids(status="open,Closed")), 5)
        errors = self.get_json("requests", expect=400, status="pending")
        self.assertEqual(errors[0]["code"], 400)

    def test_empty_parameters_count_as_absent(self):
        everything = self.ids()
        self.assertEqual(
            self.ids(
                service_request_id="",
                service_code="",
                start_date="",
                end_date="",
                status="",
                jurisdiction_id="",
            ),
            everything,
        )

    def test_pages(self):
        everything = self.ids()
        first = self.ids(page_size=2)
        second = self.ids(page_size=2, page=2)
        self.assertEqual(first + second, everything[:4])
        self.get_json("requests", expect=400, page_size=1001)
        self.get_json("requests", expect=400, page=0)

    def test_lat_long_and_radius_find_requests_nearby(self):
        near = self.ids(lat="39.9105", long="116.4005", radius="100")
        self.assertEqual(
            near, [str(c.pk) for c in (self.web, self.closed, self.in_progress, self.verifying)]
        )
        self.assertEqual(self.ids(lat=OUTSIDE[0], long=OUTSIDE[1], radius="50"), [str(self.far.pk)])
        self.get_json("requests", expect=400, lat="39.9", long="116.4", radius="100000")

    def test_updated_after_finds_what_changed(self):
        perform(self.in_progress, "request_hold", self.chen, reason="等待产权单位")
        perform(self.in_progress, "approve_hold", self.li)
        since = Case.objects.get(pk=self.in_progress.pk).events.last().at
        self.assertEqual(self.ids(updated_after=since.isoformat()), [str(self.in_progress.pk)])

    # ------------------------------------------------------------------ dates

    def test_dates_are_read_leniently(self):
        base = timezone.now() - datetime.timedelta(days=120)
        utc = base.astimezone(datetime.UTC)
        local = timezone.localtime(base)
        forms = [
            utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
            utc.strftime("%Y-%m-%dT%H:%M:%S.017Z"),  # fractions (uReport #285)
            local.strftime("%Y-%m-%dT%H:%M:%S+08:00"),
            local.strftime("%Y-%m-%dT%H:%M:%S"),  # naive: the server's time zone
            local.strftime("%Y-%m-%d"),  # a date alone
        ]
        for start in forms:
            with self.subTest(start=start):
                self.assertIn(str(self.old.pk), self.ids(start_date=start))
        # A + sent unencoded arrives as a space; encoded it arrives as a +.
        raw = local.strftime("%Y-%m-%dT%H:%M:%S+08:00")
        for query in (raw.replace("+", "%20"), quote(raw), raw):
            with self.subTest(query=query):
                response = self.client.get(f"{BASE}/requests.json?start_date={query}")
                self.assertEqual(response.status_code, 200, response.content)
                ids = [r["service_request_id"] for r in json.loads(response.content)]
                self.assertIn(str(self.old.pk), ids)

    def test_an_end_date_alone_as_a_day_includes_that_day(self):
        day = timezone.localdate(self.web.reported_at).isoformat()
        self.assertIn(str(self.web.pk), self.ids(start_date=day, end_date=day))

    def test_a_bad_date_is_400_naming_the_parameter(self):
        errors = self.get_json("requests", expect=400, start_date="yesterday")
        self.assertEqual(errors[0]["code"], 400)
        self.assertIn("start_date", errors[0]["description"])
        root = self.get_xml("requests", expect=400, end_date="2026-13-45")
        self.assertEqual(root.find("error/code").text, "400")
        self.assertIn("end_date", root.find("error/description").text)

    # ------------------------------------------------------------------ status

    def test_stages_map_to_open_and_closed_with_the_stage_in_status_notes(self):
        by_id = {r["service_request_id"]: r for r in self.get_json("requests")}
        for case in (self.verifying, self.in_progress, self.closed, self.web, self.far):
            case.refresh_from_db()
            request = by_id[str(case.pk)]
            self.assertEqual(request["status"], "open" if case.is_open else "closed")
            self.assertEqual(request["status_notes"], str(case.get_stage_display()))
        self.assertEqual(by_id[str(self.closed.pk)]["status"], "closed")
        closed_at = Case.objects.get(pk=self.closed.pk).closed_at
        self.assertEqual(
            by_id[str(self.closed.pk)]["updated_datetime"],
            closed_at.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )

    def test_every_stage_maps(self):
        for stage in Stage:
            Case.objects.filter(pk=self.web.pk).update(stage=stage)
            request = self.get_json(f"requests/{self.web.pk}")[0]
            expected = "open" if Case(stage=stage).is_open else "closed"
            self.assertEqual(request["status"], expected, stage)
            self.assertEqual(request["status_notes"], str(stage.label))

    def test_extensions_add_detailed_status_attributes_and_notes(self):
        request = self.get_json(f"requests/{self.in_progress.pk}", extensions="true")[0]
        self.assertEqual(list(request)[: len(REQUEST_FIELDS)], REQUEST_FIELDS)
        extended = request["extended_attributes"]
        self.assertEqual(extended["detailed_status"], "in_progress")
        self.assertEqual(extended["grid_cell"], self.in_progress.grid.code)
        self.assertEqual(extended["department"], self.sanitation.name)
        self.assertEqual(
            [n["description"] for n in request["notes"]],
            [str(s.label) for s in (Stage.REPORTED, Stage.FILED, Stage.DISPATCHED)]
            + [str(Stage.IN_PROGRESS.label)],
        )
        plain = self.get_json(f"requests/{self.in_progress.pk}")[0]
        self.assertNotIn("extended_attributes", plain)
        root = self.get_xml(f"requests/{self.in_progress.pk}", extensions="true")
        request = root.find("request")
        self.assertEqual(request.find("extended_attributes/detailed_status").text, "in_progress")
        self.assertEqual(set(children(request.find("notes"))), {"note"})

    def test_extensions_show_the_answers_to_the_service_definition(self):
        case = posted(self.app, **{"attribute[urgency]": "urgent"}).case
        response = self.client.get(
            f"{BASE}/requests/{case.pk}.json", {"extensions": "true"}, HTTP_ACCEPT_LANGUAGE="en"
        )
        request = json.loads(response.content)[0]
        self.assertEqual(
            request["attributes"],
            [
                {
                    "label": "How urgent is it?",
                    "name": "Urgent",
                    "value": "urgent",
                    "code": "urgency",
                }
            ],
        )
        self.assertEqual(request["extended_attributes"]["urgency"], "urgent")

    def test_the_list_costs_the_same_queries_for_more_requests(self):
        # The cases with their category, grid, community, department and Open311 record;
        # the citizens' photos; with extensions, the events.
        with self.assertNumQueries(2):
            self.client.get(f"{BASE}/requests.json")
        with self.assertNumQueries(3):
            self.client.get(f"{BASE}/requests.json", {"extensions": "true"})
        for _ in range(5):
            posted(self.app, **{"attribute[urgency]": "urgent"})
        # Plus the filing conditions of each category whose answers are shown.
        with self.assertNumQueries(4):
            self.client.get(f"{BASE}/requests.xml", {"extensions": "true"})

    # ------------------------------------------------------------------ places, media

    def test_a_point_outside_every_grid_is_kept_with_its_position(self):
        request = self.get_json(f"requests/{self.far.pk}")[0]
        self.assertEqual((request["lat"], request["long"]), OUTSIDE)
        self.assertEqual(request["address"], "39.999900,116.275500")
        self.assertIsNone(request["address_id"])
        inside = self.get_json(f"requests/{self.web.pk}")[0]
        self.assertEqual(inside["address_id"], self.web.grid.code)

    def test_the_citizens_photo_is_published_and_staff_photos_are_not(self):
        request = self.get_json(f"requests/{self.web.pk}", extensions="true")[0]
        urls = request["extended_attributes"]["media_urls"]
        self.assertEqual(len(urls), 2)
        self.assertEqual(request["media_url"], urls[0])
        self.assertEqual(urls[1], "https://example.org/a.jpg")
        response = self.client.get(urls[0])
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "image/jpeg")
        # The grid worker's photos of the closed case are not public.
        self.assertIsNone(self.get_json(f"requests/{self.closed.pk}")[0]["media_url"])
        staff_photo = self.closed.photos.first()
        self.assertEqual(self.client.get(f"{BASE}/media/{staff_photo.pk}.jpg").status_code, 404)

    # ------------------------------------------------------------------ personal data

    def test_no_personal_data_in_any_get(self):
        # Staff reasons may name people: they are not published either.
        perform(self.in_progress, "request_hold", self.chen, reason="已电话联系张三 13800000000")
        paths = [
            "requests",
            f"requests/{self.verifying.pk}",
            f"requests/{self.web.pk}",
            f"requests/{self.in_progress.pk}",
        ]
        for path in paths:
            for fmt in ("json", "xml"):
                for extensions in ("", "true"):
                    with self.subTest(path=path, fmt=fmt, extensions=extensions):
                        response = self.get(path, fmt, extensions=extensions)
                        self.assertNoPersonalData(response)
        # The data is there, only not shown.
        self.assertEqual(self.verifying.citizen_name, "张三")
        self.web.refresh_from_db()
        self.assertEqual((self.web.citizen_name, self.web.citizen_phone), ("四 李", "13911112222"))
        self.assertEqual(self.web.open311.email, "zhang@example.org")

    # ------------------------------------------------------------------ updates

    def test_fixmystreet_reads_each_change_of_stage_as_an_update(self):
        perform(self.in_progress, "request_hold", self.chen, reason="等待产权单位 张三")
        updates = self.get_json("servicerequestupdates")
        for update in updates:
            self.assertEqual(
                list(update),
                [
                    "update_id",
                    "service_request_id",
                    "status",
                    "updated_datetime",
                    "description",
                    "media_url",
                ],
            )
        closed = [u["status"] for u in updates if u["service_request_id"] == str(self.closed.pk)]
        self.assertEqual(
            closed, ["open", "open", "action_scheduled", "in_progress", "in_progress", "fixed"]
        )
        # A request for a hold changes no stage: it is no update.
        mine = [u for u in updates if u["service_request_id"] == str(self.in_progress.pk)]
        self.assertEqual(len(mine), 4)
        root = self.get_xml("servicerequestupdates")
        self.assertEqual(root.tag, "service_request_updates")
        self.assertEqual(set(children(root)), {"request_update"})
        self.assertNoPersonalData(self.get("servicerequestupdates", "xml"))

    def test_updates_take_a_window(self):
        since = timezone.now()
        perform(self.in_progress, "request_hold", self.chen, reason="等待")
        perform(self.in_progress, "approve_hold", self.li)
        updates = self.get_json(
            "servicerequestupdates",
            start_date=since.isoformat(),
            end_date=(since + datetime.timedelta(minutes=5)).isoformat(),
        )
        self.assertEqual([u["status"] for u in updates], ["planned"])

    # ------------------------------------------------------------------ tokens

    def test_a_token_gives_the_request_id(self):
        record = self.web.open311
        body = self.get_json(f"tokens/{record.token}")
        self.assertEqual(body, [{"service_request_id": str(self.web.pk), "token": record.token}])
        root = self.get_xml(f"tokens/{record.token}")
        self.assertEqual(root.tag, "service_requests")
        self.assertEqual(children(root.find("request")), ["service_request_id", "token"])
        self.get_json("tokens/nope", expect=404)


class RoutingTestCase(Open311TestCase):
    """URLs as clients build them, and what is not there."""

    def test_a_doubled_slash_is_tolerated(self):
        for path in ("/open311/v2//services.json", "/open311//v2/services.json"):
            self.assertEqual(self.client.get(path).status_code, 200, path)

    def test_unknown_resources_are_open311_404s_never_html(self):
        for path, root in (
            ("/open311/v2/services", None),
            ("/open311/v2/services.html", None),
            ("/open311/v2/", None),
            ("/open311/v2/nothing.xml", "errors"),
            ("/open311/v2/requests.csv", None),
        ):
            with self.subTest(path=path):
                response = self.client.get(path)
                self.assertEqual(response.status_code, 404)
                if root:
                    self.assertEqual(self.parse_xml(response).tag, root)
                else:
                    body = json.loads(response.content)
                    self.assertEqual(body[0]["code"], 404)

    def test_other_methods_are_refused_in_the_error_format(self):
        response = self.client.put(f"{BASE}/services.json")
        self.assertEqual(response.status_code, 405)
        self.assertEqual(json.loads(response.content)[0]["code"], 405)
        self.assertEqual(response["Allow"], "GET, HEAD")
