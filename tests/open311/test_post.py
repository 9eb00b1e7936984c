"""POST requests: form, multipart with media, JSON; API keys and their scopes; errors;
reports outside every unit grid; the citizen's contact kept but never published."""

import json

from django.test import Client
from django.urls import reverse

from cases.models import Case, CaseEvent, FilingCondition, Photo, Source, Stage
from keys.models import (
    SCOPE_CASES_CREATE,
    SCOPE_CASES_READ,
    SCOPE_PERSONAL_DATA,
    ApiKey,
    ApiRequestLog,
)
from open311.models import ServiceRequest
from org.models import Role
from tests.base import PASSWORD, make_person
from tests.cases.base import jpeg
from tests.grids.helpers import bbox, make_areas
from tests.open311.base import BASE, Open311TestCase, children

OUTSIDE = {"lat": "39.9999", "long": "116.2755"}


class PostTestCase(Open311TestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.app = make_person("city-app", Role.SYSTEM, full_name="市民热线应用")
        cls.key, cls.raw = ApiKey.issue(
            name="12345 hotline", user=cls.app, scopes=[SCOPE_CASES_CREATE], all_areas=True
        )
        cls.reader, cls.reader_raw = ApiKey.issue(
            name="read only", user=cls.app, scopes=[SCOPE_CASES_READ], all_areas=True
        )

    def form(self, **overrides) -> dict:
        form = {
            "api_key": self.raw,
            "jurisdiction_id": "dongcheng.example",
            "service_code": "E0102",
            "lat": "39.9105",
            "long": "116.4005",
            "address_string": "东华门大街 12 号",
            "description": "人行道上有一堆生活垃圾",
            "first_name": "四",
            "last_name": "李",
            "phone": "13911112222",
            "email": "zhang@example.org",
            "device_id": "device-7",
            "account_id": "acct-9",
        }
        form.update(overrides)
        return {k: v for k, v in form.items() if v is not None}

    def post(self, fmt="json", data=None, expect=200, query="", **kwargs):
        response = self.client.post(
            f"{BASE}/requests.{fmt}{query}", self.form() if data is None else data, **kwargs
        )
        self.assertEqual(response.status_code, expect, response.content[:500])
        return response

    def post_form(self, data, fmt="json", expect=200, query=""):
        """application/x-www-form-urlencoded; charset=utf-8, as the spec prints it."""
        from urllib.parse import urlencode

        response = self.client.post(
            f"{BASE}/requests.{fmt}{query}",
            urlencode(data, doseq=True),
            content_type="application/x-www-form-urlencoded; charset=utf-8",
        )
        self.assertEqual(response.status_code, expect, response.content[:500])
        return response

    def created(self, response) -> Case:
        body = json.loads(response.content)
        self.assertIsInstance(body, list)
        self.assertEqual(len(body), 1)
        return Case.objects.get(pk=int(body[0]["service_request_id"]))

    def assertError(self, response, status: int, fragment: str = "") -> None:
        self.assertEqual(response.status_code, status)
        if response["Content-Type"].startswith("text/xml"):
            root = self.parse_xml(response)
            self.assertEqual(root.tag, "errors")
            self.assertEqual(children(root.find("error")), ["code", "description"])
            self.assertEqual(root.find("error/code").text, str(status))
            description = root.find("error/description").text
        else:
            body = json.loads(response.content)
            self.assertEqual(list(body[0]), ["code", "description"])
            self.assertEqual(body[0]["code"], status)
            description = body[0]["description"]
        self.assertIn(fragment, description)

    # ------------------------------------------------------------------ bodies

    def test_a_form_post_creates_a_public_case_waiting_for_verification(self):
        response = self.post_form(self.form())
        self.assertTrue(response["Content-Type"].startswith("application/json"))
        body = json.loads(response.content)
        self.assertEqual(list(body[0]), ["service_request_id", "service_notice", "account_id"])
        self.assertEqual(body[0]["account_id"], "acct-9")
        self.assertNotIn("token", body[0])
        case = self.created(response)
        self.assertEqual(case.source, Source.PUBLIC)
        self.assertEqual(case.stage, Stage.VERIFYING)
        self.assertIn(case.grid, self.grids)
        self.assertEqual(case.field_worker, self.wang)
        self.assertEqual(case.reporter, self.app)
        self.assertEqual(case.address, "东华门大街 12 号")
        self.assertEqual((case.citizen_name, case.citizen_phone), ("四 李", "13911112222"))
        record = case.open311
        self.assertEqual(
            (record.email, record.device_id, record.api_key),
            ("zhang@example.org", "device-7", self.key),
        )
        event = case.events.get()
        self.assertEqual((event.action, event.actor), ("report", self.app))
        log = ApiRequestLog.objects.get(path=f"{BASE}/requests.json")
        self.assertEqual((log.api_key, log.user, log.status), (self.key, self.app, 200))

    def test_the_xml_answer_is_service_requests_of_request(self):
        response = self.post_form(self.form(), fmt="xml")
        root = self.parse_xml(response)
        self.assertEqual(root.tag, "service_requests")
        request = root.find("request")
        self.assertEqual(children(request), ["service_request_id", "service_notice", "account_id"])
        self.assertTrue(Case.objects.filter(pk=int(request.find("service_request_id").text)))

    def test_the_key_may_come_in_the_query_string_or_a_header(self):
        form = self.form(api_key=None)
        case = self.created(self.post_form(form, query=f"?api_key={self.raw}&jurisdiction_id=x"))
        self.assertEqual(case.reporter, self.app)
        response = self.client.post(
            f"{BASE}/requests.json", form, HTTP_AUTHORIZATION=f"Api-Key {self.raw}"
        )
        self.assertEqual(response.status_code, 200, response.content)

    def test_multipart_with_a_photo_stores_it_and_publishes_it(self):
        response = self.post(
            data={**self.form(), "media": jpeg(640, 480, name="pothole.jpg")}, expect=200
        )
        case = self.created(response)
        photo = case.photos.get()
        self.assertEqual((photo.kind, photo.uploaded_by), (Photo.Kind.BEFORE, self.app))
        request = self.get_json(f"requests/{case.pk}")[0]
        self.assertTrue(request["media_url"].endswith(f"/media/{photo.pk}.jpg"))
        self.assertEqual(self.client.get(request["media_url"]).status_code, 200)

    def test_repeated_media_urls_are_kept(self):
        from urllib.parse import urlencode

        body = urlencode(
            [*self.form().items(), ("media_url", "https://a.example/1.jpg")]
            + [("media_url", "https://a.example/2.jpg"), ("media_url", "javascript:alert(1)")]
        )
        response = self.client.post(
            f"{BASE}/requests.json", body, content_type="application/x-www-form-urlencoded"
        )
        case = self.created(response)
        self.assertEqual(
            case.open311.media_urls, ["https://a.example/1.jpg", "https://a.example/2.jpg"]
        )
        self.assertEqual(
            self.get_json(f"requests/{case.pk}")[0]["media_url"], "https://a.example/1.jpg"
        )

    def test_a_media_file_that_is_not_a_photo_is_400_and_nothing_is_saved(self):
        from django.core.files.uploadedfile import SimpleUploadedFile

        before = Case.objects.count()
        fake = SimpleUploadedFile("x.jpg", b"not a photo", content_type="image/jpeg")
        response = self.client.post(f"{BASE}/requests.json", {**self.form(), "media": fake})
        self.assertError(response, 400, "x.jpg")
        self.assertEqual(Case.objects.count(), before)

    def test_the_key_is_checked_before_any_photo_is_read(self):
        from django.core.files.uploadedfile import SimpleUploadedFile

        fake = SimpleUploadedFile("x.jpg", b"not a photo", content_type="image/jpeg")
        response = self.client.post(
            f"{BASE}/requests.json", {**self.form(api_key="ggk_no.key"), "media": fake}
        )
        self.assertError(response, 403, "api_key")

    def test_a_body_over_the_size_limit_is_an_open311_400(self):
        from urllib.parse import urlencode

        body = urlencode({**self.form(), "description": "x" * (6 * 1024 * 1024)})
        response = self.client.post(
            f"{BASE}/requests.xml", body, content_type="application/x-www-form-urlencoded"
        )
        self.assertError(response, 400)
        self.assertFalse(ServiceRequest.objects.exists())

    def test_a_json_body_is_read_too(self):
        payload = {
            "api_key": self.raw,
            "service_code": "E0102",
            "lat": 39.9105,
            "long": 116.4005,
            "description": "JSON 上报",
            "attribute": {"urgency": "urgent"},
            "media_url": ["https://a.example/1.jpg"],
            "email": None,
        }
        response = self.client.post(
            f"{BASE}/requests.json", json.dumps(payload), content_type="application/json"
        )
        self.assertEqual(response.status_code, 200, response.content)
        case = self.created(response)
        self.assertEqual((case.description, case.urgency), ("JSON 上报", "urgent"))
        bad = self.client.post(f"{BASE}/requests.json", "{", content_type="application/json")
        self.assertError(bad, 400)

    def test_csrf_is_not_asked_of_outside_clients(self):
        client = Client(enforce_csrf_checks=True)
        client.login(username="li", password=PASSWORD)  # even with a session cookie
        response = client.post(f"{BASE}/requests.json", self.form())
        self.assertEqual(response.status_code, 200, response.content)

    # ------------------------------------------------------------------ attributes

    def test_attributes_are_read_from_their_raw_keys(self):
        second = FilingCondition.objects.create(
            category=self.category,
            condition="主干道两侧暴露垃圾",
            limit_value=2,
            limit_unit="working_hours",
            closing_condition="垃圾已清运",
        )
        form = self.form(**{"attribute[urgency]": "urgent", "attribute[condition]": second.pk})
        case = self.created(self.post_form(form))
        self.assertEqual(case.urgency, "urgent")
        self.assertIn("主干道两侧暴露垃圾", case.description)
        # Written for the dispatcher in the city's language, though the client asked English.
        self.assertIn("上报人选择", case.description)
        self.assertEqual(
            case.open311.attributes, {"urgency": "urgent", "condition": str(second.pk)}
        )
        # attribute[CODE][]: the list form of the same key.
        case = self.created(self.post_form(self.form(**{"attribute[urgency][]": ["urgent"]})))
        self.assertEqual(case.urgency, "urgent")

    def test_a_value_not_in_the_list_is_400_naming_the_attribute(self):
        before = Case.objects.count()
        response = self.post_form(self.form(**{"attribute[urgency]": "panic"}), expect=400)
        self.assertError(response, 400, "urgency")
        self.assertEqual(Case.objects.count(), before)

    # ------------------------------------------------------------------ keys

    def test_without_a_valid_key_it_is_403_and_nothing_is_saved(self):
        before = Case.objects.count()
        revoked, revoked_raw = ApiKey.issue(
            name="old", user=self.app, scopes=[SCOPE_CASES_CREATE], all_areas=True
        )
        ApiKey.objects.filter(pk=revoked.pk).update(is_active=False)
        for key in (None, "", "ggk_nothing.secret", revoked_raw):
            for fmt in ("json", "xml"):
                with self.subTest(key=key, fmt=fmt):
                    response = self.post_form(self.form(api_key=key), fmt=fmt, expect=403)
                    self.assertError(response, 403, "api_key")
        self.assertEqual(Case.objects.count(), before)

    def test_errors_are_in_the_language_asked_chinese_by_default(self):
        response = self.client.post(
            f"{BASE}/requests.json", self.form(api_key="ggk_no.key"), HTTP_ACCEPT_LANGUAGE=""
        )
        self.assertError(response, 403, "api_key 无效")

    def test_a_key_without_the_report_scope_is_403(self):
        response = self.post_form(self.form(api_key=self.reader_raw), expect=403)
        self.assertError(response, 403, "api_key")
        self.assertFalse(ServiceRequest.objects.exists())

    def test_a_key_for_one_area_reports_only_there(self):
        here, here_raw = ApiKey.issue(
            name="street A", user=self.app, scopes=[SCOPE_CASES_CREATE], areas=[self.community]
        )
        self.created(self.post_form(self.form(api_key=here_raw)))
        before = Case.objects.count()
        response = self.post_form(self.form(api_key=here_raw, **OUTSIDE), expect=403)
        self.assertError(response, 403, "area")
        self.assertEqual(Case.objects.count(), before)
        self.assertEqual(CaseEvent.objects.count(), before)

    def test_the_rate_limit_of_the_key_holds(self):
        key, raw = ApiKey.issue(
            name="slow", user=self.app, scopes=[SCOPE_CASES_CREATE], all_areas=True, rate_limit=1
        )
        self.post_form(self.form(api_key=raw))
        response = self.post_form(self.form(api_key=raw), expect=429)
        self.assertError(response, 429)
        self.assertIn("Retry-After", response)

    # ------------------------------------------------------------------ errors

    def test_bad_input_is_400_or_404_in_the_error_format_and_nothing_is_saved(self):
        cases = [
            ({"service_code": None}, 400, "service_code"),
            ({"service_code": ""}, 400, "service_code"),
            ({"service_code": "X9999"}, 404, "X9999"),
            ({"service_code": "E01"}, 404, "E01"),  # a group, not a service
            ({"lat": None, "long": None, "address_string": None}, 400, "location"),
            ({"long": None}, 400, "lat and long"),
            ({"lat": "91"}, 400, "lat"),
            ({"long": "east"}, 400, "long"),
            ({"lat": None, "long": None}, 400, "address_string"),
            ({"address_id": "nope", "lat": None, "long": None}, 400, "nope"),
            ({"description": "长" * 4001}, 400, "4000"),
        ]
        before = Case.objects.count()
        for overrides, status, fragment in cases:
            for fmt in ("json", "xml"):
                with self.subTest(overrides=str(overrides)[:60], fmt=fmt):
                    response = self.post_form(self.form(**overrides), fmt=fmt, expect=status)
                    self.assertError(response, status, fragment)
        self.assertEqual(Case.objects.count(), before)

    def test_a_description_of_4000_characters_is_accepted(self):
        case = self.created(self.post_form(self.form(description="长" * 4000)))
        self.assertEqual(len(case.description), 4000)

    def test_an_address_id_is_a_unit_grid_code(self):
        grid = self.grids[1]
        case = self.created(
            self.post_form(self.form(lat=None, long=None, address_id=grid.code, address_string=""))
        )
        self.assertEqual(case.grid, grid)
        self.assertEqual(case.address, grid.code)

    def test_empty_optional_parameters_count_as_absent(self):
        form = self.form(
            email="", first_name="", last_name="", phone="", description="", jurisdiction_id=""
        )
        case = self.created(self.post_form(form))
        self.assertEqual((case.citizen_name, case.citizen_phone, case.open311.email), ("", "", ""))
        self.assertEqual(case.description, self.category.name)

    # ------------------------------------------------------------------ out of area

    def test_a_point_outside_every_grid_is_accepted_and_sent_to_the_dispatch_desk(self):
        response = self.post_form(self.form(**OUTSIDE, address_string=""))
        case = self.created(response)
        self.assertIsNone(case.grid)
        self.assertIsNone(case.field_worker)
        self.assertEqual(case.stage, Stage.REPORTED)
        self.assertIn("dispatch", json.loads(response.content)[0]["service_notice"])
        # The dispatcher finds it on the desk, to file or not accept.
        self.client.login(username="li", password=PASSWORD)
        desk = self.client.get(reverse("cases:desk")).content.decode()
        self.assertIn(reverse("cases:detail", args=[case.pk]), desk)
        self.client.logout()
        request = self.get_json(f"requests/{case.pk}")[0]
        self.assertEqual((request["lat"], request["long"]), (39.9999, 116.2755))
        self.assertEqual(request["status"], "open")

    def test_any_report_needing_verification_outside_every_grid_goes_to_the_desk(self):
        # The change in case_report that this API relies on, for the hotline as well.
        from django.contrib.gis.geos import Point

        case = self.report(
            source=Source.HOTLINE, reporter=self.li, point=Point(116.2755, 39.9999, srid=4326)
        )
        self.assertEqual((case.stage, case.grid, case.field_worker), (Stage.REPORTED, None, None))
        inside = self.report(source=Source.HOTLINE, reporter=self.li)
        self.assertEqual((inside.stage, inside.field_worker), (Stage.VERIFYING, self.wang))

    # ------------------------------------------------------------------ personal data

    def test_the_contact_is_shown_only_to_a_key_with_the_personal_data_scope(self):
        case = self.created(self.post_form(self.form()))
        private, private_raw = ApiKey.issue(
            name="hotline CRM",
            user=self.app,
            scopes=[SCOPE_CASES_READ, SCOPE_PERSONAL_DATA],
            all_areas=True,
        )
        path = f"requests/{case.pk}"
        for raw in (None, self.raw, self.reader_raw, "ggk_wrong.key"):
            for fmt in ("json", "xml"):
                with self.subTest(key=raw, fmt=fmt):
                    params = {"extensions": "true", **({"api_key": raw} if raw else {})}
                    self.assertNoPersonalData(self.get(path, fmt, **params))
        # Without extensions even the scoped key reads the public view.
        self.assertNoPersonalData(self.get(path, api_key=private_raw))
        extended = self.get_json(path, extensions="true", api_key=private_raw)[0]
        self.assertEqual(
            extended["extended_attributes"]["contact"],
            {"name": "四 李", "phone": "13911112222", "email": "zhang@example.org"},
        )

    def test_the_personal_data_scope_stops_at_the_keys_areas(self):
        case = self.created(self.post_form(self.form()))
        _, _, elsewhere = make_areas(bbox(116.43, 39.94, 116.44, 39.95), suffix="002")
        other, other_raw = ApiKey.issue(
            name="street B", user=self.app, scopes=[SCOPE_PERSONAL_DATA], areas=[elsewhere]
        )
        response = self.get(f"requests/{case.pk}", extensions="true", api_key=other_raw)
        self.assertNoPersonalData(response)
        self.assertNotIn("contact", json.loads(response.content)[0]["extended_attributes"])
