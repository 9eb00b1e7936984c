import uuid

from django.contrib.gis.geos import Point
from django.db import IntegrityError, transaction
from django.urls import reverse

from cases.models import Case, Source, Stage
from cases.workflow import perform
from org.models import Role
from tests.base import make_person
from tests.cases.base import INSIDE, CaseTestCase, jpeg, photo
from tests.cases.test_photos import exif_with_gps


class ReportPageTestCase(CaseTestCase):
    def post_report(self, **overrides):
        data = {
            "category": self.category.pk,
            "description": "人行道上有一堆生活垃圾",
            "urgency": "normal",
            "address": "东华门大街12号",
            "lon": INSIDE.x,
            "lat": INSIDE.y,
            "photos": [jpeg()],
        }
        data.update(overrides)
        return self.client.post(reverse("cases:report"), data, HTTP_ACCEPT_LANGUAGE="en")

    def test_a_grid_worker_reports_with_a_photo_and_a_position(self):
        self.client.force_login(self.wang)
        self.assertEqual(self.client.get(reverse("cases:report")).status_code, 200)
        response = self.post_report()
        case = Case.objects.get()
        self.assertRedirects(response, reverse("cases:detail", args=[case.pk]))
        self.assertEqual(
            (case.stage, case.grid, case.reporter), (Stage.REPORTED, self.grids[2], self.wang)
        )
        self.assertEqual(case.photos.get().kind, "before")

    def test_the_photos_gps_is_used_when_no_pin_was_set(self):
        self.client.force_login(self.wang)
        self.post_report(lon="", lat="", photos=[jpeg(exif=exif_with_gps(0, 0))])
        case = Case.objects.get()
        self.assertAlmostEqual(case.point.x, 116.400500, places=5)
        self.assertAlmostEqual(case.point.y, 39.910500, places=5)

    def test_a_report_without_position_keeps_what_was_typed(self):
        self.client.force_login(self.wang)
        response = self.post_report(lon="", lat="")
        self.assertContains(response, "Set the position", status_code=400)
        self.assertContains(response, "人行道上有一堆生活垃圾", status_code=400)
        self.assertContains(response, "东华门大街12号", status_code=400)
        self.assertFalse(Case.objects.exists())

    def test_a_file_that_is_not_a_photo_is_refused_clearly(self):
        from django.core.files.uploadedfile import SimpleUploadedFile

        self.client.force_login(self.wang)
        response = self.post_report(photos=[SimpleUploadedFile("notes.txt", b"hello")])
        self.assertContains(response, "“notes.txt” is not a photo", status_code=400)
        self.assertContains(response, "人行道上有一堆生活垃圾", status_code=400)
        self.assertFalse(Case.objects.exists())

    def test_a_photo_too_large_is_refused_clearly(self):
        self.client.force_login(self.wang)
        with self.settings(PHOTO_MAX_BYTES=500):
            response = self.post_report(photos=[jpeg(300, 300)])
        self.assertContains(response, "photos may be at most", status_code=400)
        self.assertFalse(Case.objects.exists())

    def test_a_nearby_duplicate_is_shown_before_filing_a_new_case(self):
        existing = self.report()
        self.client.force_login(self.qian)
        response = self.post_report(lon=INSIDE.x + 0.0001)
        self.assertContains(response, "already reported")
        # "Report this too" sends this form, to join the case shown.
        self.assertContains(
            response, f'form="report-form" name="join" value="{existing.pk}"', html=False
        )
        self.assertEqual(Case.objects.count(), 1)
        response = self.post_report(lon=INSIDE.x + 0.0001, confirm_new="on")
        self.assertEqual(Case.objects.count(), 2)

    def test_a_second_call_joins_the_open_case_with_the_callers_name_phone_and_words(self):
        # The desk registered the first call about this heap itself.
        existing = self.report(
            source=Source.HOTLINE,
            reporter=self.li,
            citizen_name="张三",
            citizen_phone="13800000000",
        )
        self.client.force_login(self.li)
        key = uuid.uuid4()
        call = {
            "source": "hotline",
            "citizen_name": "李四",
            "citizen_phone": "139 0000 1111",
            "description": "垃圾堆了三天，气味很大",
            "photos": [],
            "submission": key,
            "lon": INSIDE.x + 0.0001,
        }
        shown = self.post_report(**call)
        self.assertContains(shown, f'name="join" value="{existing.pk}"', html=False)
        response = self.post_report(**call, confirm_new="on", join=existing.pk)
        self.assertRedirects(response, reverse("cases:detail", args=[existing.pk]))
        self.assertEqual(Case.objects.count(), 1)
        caller = existing.reporters.get(citizen_name="李四")
        self.assertEqual(
            (caller.citizen_phone, caller.source, caller.user, caller.submission),
            ("139 0000 1111", Source.HOTLINE, self.li, key),
        )
        event = existing.events.get(action="join")
        self.assertEqual(event.reason, "垃圾堆了三天，气味很大")
        self.assertNotIn("13900001111", str(event.payload).replace(" ", ""))
        # The form sent again (a double click) adds no second caller.
        again = self.post_report(**call, confirm_new="on", join=existing.pk)
        self.assertRedirects(
            again, reverse("cases:detail", args=[existing.pk]), fetch_redirect_response=False
        )
        self.assertEqual(existing.reporters.filter(citizen_name="李四").count(), 1)
        # The desk sees whom to call back; the grid worker who patrols there does not.
        page = self.client.get(
            reverse("cases:detail", args=[existing.pk]), HTTP_ACCEPT_LANGUAGE="en"
        )
        self.assertContains(page, "李四 139 0000 1111 · registered by 李军")
        self.assertContains(page, "张三 13800000000 · registered by 李军")
        self.client.force_login(self.wang)
        page = self.client.get(
            reverse("cases:detail", args=[existing.pk]), HTTP_ACCEPT_LANGUAGE="en"
        )
        self.assertNotContains(page, "139 0000 1111")
        self.assertContains(page, "a citizen · registered by 李军")

    def test_a_grid_worker_joins_with_her_photo_or_without_one(self):
        existing = self.report()
        self.client.force_login(self.qian)
        response = self.post_report(
            join=existing.pk, lon=INSIDE.x + 0.0001, submission=uuid.uuid4()
        )
        self.assertRedirects(response, reverse("cases:detail", args=[existing.pk]))
        self.assertEqual(existing.photos.get().kind, "before")  # hers
        self.assertTrue(existing.reporters.filter(user=self.qian, source=Source.PATROL).exists())
        # Once is enough for a grid worker: said, and nothing lost from the form.
        response = self.post_report(
            join=existing.pk, photos=[], description="又堆起来了", submission=uuid.uuid4()
        )
        self.assertContains(response, "You already reported this case.", status_code=400)
        self.assertContains(response, "又堆起来了", status_code=400)
        self.client.force_login(make_person("zhou2", Role.GRID_WORKER, department=self.street))
        response = self.post_report(join=existing.pk, photos=[], submission=uuid.uuid4())
        self.assertRedirects(
            response, reverse("cases:detail", args=[existing.pk]), fetch_redirect_response=False
        )
        self.assertEqual(existing.reporters.count(), 3)

    def test_a_pin_in_another_city_is_refused_and_one_just_outside_goes_to_triage(self):
        self.client.force_login(self.li)
        call = {"source": "hotline", "citizen_name": "李四", "photos": []}
        # Shanghai, for a Beijing district: a slip of the pin, not a case of this city.
        response = self.post_report(**call, lon=121.47, lat=31.23)
        self.assertContains(response, "km outside the city&#x27;s districts", status_code=400)
        self.assertContains(response, "李四", status_code=400)
        self.assertFalse(Case.objects.exists())
        # A few kilometres outside: outside every grid, for the desk to decide.
        response = self.post_report(**call, lon=INSIDE.x + 0.05, lat=INSIDE.y)
        self.assertEqual(response.status_code, 302)
        self.assertIsNone(Case.objects.get().grid)

    def test_a_phone_number_with_letters_is_refused_and_the_call_kept(self):
        self.client.force_login(self.li)
        response = self.post_report(
            source="hotline", citizen_name="李四", citizen_phone="138abc0000x", photos=[]
        )
        self.assertContains(response, "Enter a phone number", status_code=400)
        self.assertContains(response, "李四", status_code=400)
        self.assertContains(response, "人行道上有一堆生活垃圾", status_code=400)
        self.assertFalse(Case.objects.exists())
        for phone in ("010-65123456转123", "+86 138 0000 0000", "12345"):
            with self.subTest(phone=phone):
                response = self.post_report(
                    source="hotline",
                    citizen_phone=phone,
                    photos=[],
                    confirm_new="on",
                    submission=uuid.uuid4(),
                )
                self.assertEqual(response.status_code, 302, phone)

    def test_the_same_report_sent_twice_makes_one_case(self):
        self.client.force_login(self.wang)
        form = self.client.get(reverse("cases:report")).context["form"]
        key = form.initial["submission"]
        self.assertNotEqual(
            key, self.client.get(reverse("cases:report")).context["form"].initial["submission"]
        )
        first = self.post_report(submission=key)
        case = Case.objects.get()
        self.assertRedirects(first, reverse("cases:detail", args=[case.pk]))
        self.assertEqual(case.reporters.get().submission, key)
        # A double tap, or a phone sending again after losing the first answer.
        again = self.post_report(submission=key, photos=[jpeg()])
        self.assertRedirects(
            again, reverse("cases:detail", args=[case.pk]), fetch_redirect_response=False
        )
        page = self.client.get(again["Location"], HTTP_ACCEPT_LANGUAGE="en")
        self.assertContains(page, f"This report was already received as case {case.reference}.")
        self.assertEqual(Case.objects.count(), 1)
        self.assertEqual(case.photos.count(), 1)
        self.assertEqual(case.events.filter(action="report").count(), 1)
        # Another key is another report; another person's key is theirs alone.
        self.post_report(submission=uuid.uuid4(), lon=INSIDE.x + 0.001, confirm_new="on")
        self.client.force_login(self.qian)
        self.post_report(submission=key, lon=INSIDE.x + 0.002, confirm_new="on")
        self.assertEqual(Case.objects.count(), 3)
        self.assertEqual(Case.objects.filter(reporters__submission=key).count(), 2)

    def test_a_report_corrected_keeps_its_key_and_an_invalid_one_uses_none(self):
        self.client.force_login(self.wang)
        key = uuid.uuid4()
        response = self.post_report(submission=key, lon="", lat="")
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.context["form"]["submission"].value(), str(key))
        self.assertContains(response, f'value="{key}"', status_code=400)
        self.post_report(submission=key)
        self.assertEqual(Case.objects.get().reporters.get().submission, key)

    def test_the_database_refuses_a_second_case_for_one_submission(self):
        key = uuid.uuid4()
        self.report(submission=key)
        with self.assertRaises(IntegrityError), transaction.atomic():
            self.report(submission=key)
        self.assertEqual(Case.objects.count(), 1)

    def test_the_outbox_script_is_answered_in_json(self):
        self.client.force_login(self.wang)
        key = uuid.uuid4()
        data = {
            "category": self.category.pk,
            "description": "井盖缺失",
            "urgency": "normal",
            "lon": INSIDE.x,
            "lat": INSIDE.y,
            "photos": [jpeg()],
            "submission": key,
        }
        url = reverse("cases:report")
        sent = self.client.post(url, data, HTTP_X_GRIDGOV_OUTBOX="kept")
        case = Case.objects.get()
        self.assertEqual(sent.status_code, 201)
        self.assertEqual(
            sent.json(),
            {
                "id": case.pk,
                "reference": case.reference,
                "url": reverse("cases:detail", args=[case.pk]),
            },
        )
        data["photos"] = [jpeg()]
        again = self.client.post(url, data, HTTP_X_GRIDGOV_OUTBOX="kept")
        self.assertEqual((again.status_code, again.json()["id"]), (200, case.pk))
        # A kept report sent in the background leaves no message for the next page.
        self.assertNotContains(
            self.client.get(reverse("cases:mine")), case.reference + " is reported"
        )
        # Not valid: the form comes back as a page, as without the script.
        data.update(submission=uuid.uuid4(), lon="", lat="", photos=[jpeg()])
        invalid = self.client.post(url, data, HTTP_X_GRIDGOV_OUTBOX="page")
        self.assertContains(invalid, 'id="report-form"', status_code=400)
        self.assertEqual(Case.objects.count(), 1)

    def test_the_duplicates_endpoint_answers_json(self):
        self.report()
        self.client.force_login(self.qian)
        url = reverse("cases:duplicates")
        data = self.client.get(
            url, {"lon": INSIDE.x, "lat": INSIDE.y, "category": self.category.pk}
        ).json()
        self.assertEqual(data["count"], 1)
        self.assertEqual(self.client.get(url, {"lon": "x"}).status_code, 400)

    def test_the_centre_registers_a_hotline_call(self):
        self.client.force_login(self.li)
        self.post_report(
            source=Source.HOTLINE, citizen_name="张三", citizen_phone="13800000000", photos=[]
        )
        case = Case.objects.get()
        self.assertEqual((case.stage, case.field_worker), (Stage.VERIFYING, self.wang))

    def test_the_map_starts_on_a_workers_grids_and_on_the_city_for_the_centre(self):
        self.client.force_login(self.wang)
        response = self.client.get(reverse("cases:report"), HTTP_ACCEPT_LANGUAGE="en")
        config = response.context["map_config"]
        codes = [f["properties"]["code"] for f in config["grids"]["features"]]
        self.assertEqual(codes, sorted(grid.code for grid in self.grids))
        self.assertTrue(config["askPosition"])
        self.assertContains(response, "<h1>Report a case</h1>", html=True)
        self.assertContains(response, 'id="report-map-config"')

        self.client.force_login(self.li)
        response = self.client.get(reverse("cases:report"), HTTP_ACCEPT_LANGUAGE="en")
        config = response.context["map_config"]
        self.assertIsNone(config["grids"])
        self.assertFalse(config["askPosition"])  # the caller is elsewhere
        district = self.community.parent.parent
        for got, want in zip(config["extent"], district.boundary.extent, strict=True):
            self.assertAlmostEqual(got, want, places=6)
        self.assertContains(response, "<h1>Register a call</h1>", html=True)
        self.assertContains(response, "Find the place the caller names")

    def test_only_grid_workers_and_dispatchers_report(self):
        for person in (self.zhao, self.chen, self.zhou, self.ada, self.nobody):
            self.client.force_login(person)
            self.assertEqual(self.client.get(reverse("cases:report")).status_code, 403)
            self.assertEqual(self.client.get(reverse("cases:report_offline")).status_code, 403)
            # Officers keep their actions on the phone; the others work at a desk.
            home = self.client.get(reverse("home"), follow=True)
            self.assertEqual("outbox.js" in home.content.decode(), person == self.chen)

    def test_the_report_pages_service_worker_is_served_to_reporters_fresh(self):
        for person in (self.wang, self.li):
            self.client.force_login(person)
            response = self.client.get(reverse("cases:report_offline"))
            self.assertEqual(response["Content-Type"], "text/javascript; charset=utf-8")
            self.assertEqual(response["Cache-Control"], "no-cache")
            text = response.content.decode()
            self.assertIn('var PAGE = "/cases/report/";', text)
            self.assertIn('"/static/js/report.js"', text)
            page = self.client.get(reverse("cases:report"))
            self.assertContains(page, 'data-offline-worker="/cases/report/offline.js"')
            # The desk's calls (citizens' names and phones) are not kept in the browser.
            self.assertEqual("js/outbox.js" in page.content.decode(), person == self.wang)


class SearchPageTestCase(CaseTestCase):
    def find(self, person, query):
        self.client.force_login(person)
        response = self.client.get(reverse("cases:search"), {"q": query}, HTTP_ACCEPT_LANGUAGE="en")
        self.assertEqual(response.status_code, 200)
        return {case.pk for case in response.context["cases"] or []}

    def test_a_case_is_found_by_number_and_the_centre_finds_a_callers_cases(self):
        filed = self.case_in(Stage.DISPATCHED)  # in sanitation, Chen's department
        called = self.report(
            source=Source.HOTLINE,
            reporter=self.li,
            citizen_name="张三",
            citizen_phone="138 0000 0000",
            point=Point(INSIDE.x + 0.0005, INSIDE.y, srid=4326),
        )
        perform(
            called,
            "join",
            self.li,
            data={"citizen_name": "李四", "citizen_phone": "+86 139-0000-1111"},
        )
        number = filed.number
        for query in (number, number.lower(), f"#{filed.pk}", str(filed.pk)):
            with self.subTest(query=query):
                self.assertEqual(self.find(self.li, query), {filed.pk})
        # The centre, when a citizen calls back: their phone as they say it, or its end.
        for query in ("13800000000", "138-0000-0000", "00000000", "张三"):
            with self.subTest(query=query):
                self.assertEqual(self.find(self.li, query), {called.pk})
        self.assertEqual(self.find(self.zhao, "13900001111"), {called.pk})  # a joined caller
        self.assertEqual(self.find(self.li, "李四"), {called.pk})
        self.assertEqual(self.find(self.li, "0000"), set())  # too short to mean a phone
        # Nobody else searches citizens' details; each finds only the cases they may see.
        self.assertEqual(self.find(self.wang, "13800000000"), set())
        self.assertEqual(self.find(self.wang, f"#{called.pk}"), {called.pk})  # her grid
        self.assertEqual(self.find(self.chen, number), {filed.pk})
        self.assertEqual(self.find(self.chen, f"#{called.pk}"), set())  # not his department
        self.assertEqual(self.find(self.sun, number), set())
        self.assertEqual(self.find(self.zhou, "张三"), set())
        self.assertEqual(self.find(self.zhou, number), {filed.pk})

    def test_the_page_says_what_it_found_or_that_nothing_matches(self):
        filed = self.case_in(Stage.FILED)
        self.client.force_login(self.li)
        empty = self.client.get(reverse("cases:search"), HTTP_ACCEPT_LANGUAGE="en")
        self.assertContains(empty, "caller’s phone or name")
        self.assertNotContains(empty, "search-results")
        found = self.client.get(
            reverse("cases:search"), {"q": filed.number}, HTTP_ACCEPT_LANGUAGE="en"
        )
        self.assertContains(found, f"1 case for “{filed.number}”")
        self.assertContains(found, reverse("cases:detail", args=[filed.pk]))
        none = self.client.get(
            reverse("cases:search"), {"q": "<b>X9</b>"}, HTTP_ACCEPT_LANGUAGE="en"
        )
        self.assertContains(none, "No case you may see matches “&lt;b&gt;X9&lt;/b&gt;”.")
        desk = self.client.get(reverse("cases:desk"), HTTP_ACCEPT_LANGUAGE="en")
        self.assertContains(desk, f'action="{reverse("cases:search")}"')
        self.client.force_login(self.chen)
        page = self.client.get(reverse("cases:search"), HTTP_ACCEPT_LANGUAGE="en")
        self.assertContains(page, "Case number or #123")
        self.assertNotContains(page, "phone")


class CasePageTestCase(CaseTestCase):
    def test_each_person_sees_only_their_actions(self):
        case = self.case_in(Stage.DISPATCHED)
        url = reverse("cases:detail", args=[case.pk])
        expected = {
            self.chen: ["accept", "request_return", "request_extension", "request_void"],
            self.li: ["join", "request_void"],
            self.zhou: ["supervise"],
            self.zhao: [],
            # Wang reported it: nothing to join.
            self.wang: [],
        }
        for person, actions in expected.items():
            with self.subTest(person=person.username):
                self.client.force_login(person)
                response = self.client.get(url)
                self.assertEqual(response.status_code, 200)
                shown = [a["transition"].action for a in response.context["actions"]]
                self.assertEqual(sorted(shown), sorted(actions))

    def test_the_timeline_names_the_stage_an_event_moved_the_case_to(self):
        self.client.force_login(self.li)
        patrol = self.report()  # a grid worker's report stays "Reported"
        call = self.report(
            reporter=self.li,
            source=Source.HOTLINE,
            point=Point(INSIDE.x + 0.0003, INSIDE.y, srid=4326),
        )
        for case, stage in ((patrol, ""), (call, "Awaiting verification")):
            with self.subTest(source=case.source):
                response = self.client.get(
                    reverse("cases:detail", args=[case.pk]), HTTP_ACCEPT_LANGUAGE="en"
                )
                [item] = response.context["events"]
                self.assertEqual((str(item["label"]), str(item["stage"])), ("Reported", stage))
        # Confirmed on site, the call moves on to "Reported", and its line says so.
        perform(call, "verify_confirm", self.wang, photos=[photo()])
        response = self.client.get(
            reverse("cases:detail", args=[call.pk]), HTTP_ACCEPT_LANGUAGE="en"
        )
        confirmed = response.context["events"][-1]
        self.assertEqual(confirmed["event"].action, "verify_confirm")
        self.assertEqual(str(confirmed["stage"]), "Reported")

    def test_the_photo_card_says_when_there_is_no_photo(self):
        self.client.force_login(self.li)
        bare = self.report()
        response = self.client.get(
            reverse("cases:detail", args=[bare.pk]), HTTP_ACCEPT_LANGUAGE="en"
        )
        self.assertContains(response, "No photo yet.")
        shown = self.report(photos=[photo()], point=Point(INSIDE.x + 0.0003, INSIDE.y, srid=4326))
        response = self.client.get(
            reverse("cases:detail", args=[shown.pk]), HTTP_ACCEPT_LANGUAGE="en"
        )
        self.assertNotContains(response, "No photo yet.")
        self.assertContains(response, 'class="photo-strip"')

    def test_a_case_is_hidden_from_those_who_may_not_see_it(self):
        case = self.case_in(Stage.DISPATCHED)
        for person in (self.sun, self.qian, self.nobody):
            with self.subTest(person=person.username):
                self.client.force_login(person)
                self.assertEqual(
                    self.client.get(reverse("cases:detail", args=[case.pk])).status_code, 404
                )
        photo_id = self.report(photos=[photo()]).photos.get().pk
        self.client.force_login(self.sun)
        self.assertEqual(self.client.get(reverse("cases:photo", args=[photo_id])).status_code, 404)
        self.client.force_login(self.wang)
        response = self.client.get(reverse("cases:photo", args=[photo_id]))
        self.assertEqual(response["Content-Type"], "image/jpeg")

    def test_an_officer_accepts_from_the_page(self):
        case = self.case_in(Stage.DISPATCHED)
        self.client.force_login(self.chen)
        response = self.client.post(
            reverse("cases:act", args=[case.pk, "accept"]), {"accept-version": case.version}
        )
        self.assertRedirects(response, reverse("cases:detail", args=[case.pk]))
        case.refresh_from_db()
        self.assertEqual(case.stage, Stage.IN_PROGRESS)

    def test_a_stale_page_gets_this_case_changed_reload(self):
        case = self.case_in(Stage.DISPATCHED)
        old = case.version
        perform(case, "accept", self.chen)
        self.client.force_login(self.chen)
        response = self.client.post(
            reverse("cases:act", args=[case.pk, "request_return"]),
            {"request_return-version": old, "request_return-reason": "不归我们管"},
            HTTP_ACCEPT_LANGUAGE="en",
        )
        self.assertContains(
            response, "This case changed while you were looking at it", status_code=409
        )
        self.assertContains(response, "不归我们管", status_code=409)
        # Shown again on the case as it is now: the same form, looked over, goes through.
        case.refresh_from_db()
        form = response.context["actions"][
            [item["transition"].action for item in response.context["actions"]].index(
                "request_return"
            )
        ]["form"]
        self.assertEqual(form["version"].value(), str(case.version))
        self.assertEqual(form.stale_version, old)
        self.assertContains(response, f'data-outbox-was="{old}"', status_code=409)
        again = self.client.post(
            reverse("cases:act", args=[case.pk, "request_return"]),
            {
                "request_return-version": form["version"].value(),
                "request_return-reason": "不归我们管",
            },
        )
        self.assertEqual(again.status_code, 302)
        self.assertEqual(case.requests.get().reason, "不归我们管")

    def test_the_same_action_sent_twice_is_done_once_and_said_so(self):
        case = self.case_in(Stage.DISPATCHED)
        self.client.force_login(self.chen)
        url = reverse("cases:act", args=[case.pk, "accept"])
        form = {"accept-version": case.version, "accept-reason": ""}
        self.assertRedirects(self.client.post(url, form), reverse("cases:detail", args=[case.pk]))
        # A double tap, or a phone sending again after losing the answer.
        again = self.client.post(url, form, HTTP_ACCEPT_LANGUAGE="en")
        self.assertRedirects(
            again, reverse("cases:detail", args=[case.pk]), fetch_redirect_response=False
        )
        page = self.client.get(again["Location"], HTTP_ACCEPT_LANGUAGE="en")
        self.assertContains(page, "Already done: Accept.")
        self.assertEqual(case.events.filter(action="accept").count(), 1)
        # Someone else's change in between is still a change to look at.
        case.refresh_from_db()
        seen = case.version
        perform(case, "supervise", self.zhou, reason="抓紧", data={"level": 1})
        stale = {
            "request_extension-version": seen,
            "request_extension-reason": "材料未到",
            "request_extension-hours": "8",
        }
        self.assertContains(
            self.client.post(
                reverse("cases:act", args=[case.pk, "request_extension"]),
                stale,
                HTTP_ACCEPT_LANGUAGE="en",
            ),
            "This case changed while you were looking at it",
            status_code=409,
        )

    def test_a_merged_case_is_named_on_the_case_that_took_it_in_with_its_caller(self):
        first = self.case_in(Stage.FILED)
        second = self.report(
            source=Source.HOTLINE,
            reporter=self.li,
            citizen_name="李四",
            citizen_phone="13900001111",
            point=Point(INSIDE.x + 0.0001, INSIDE.y, srid=4326),
        )
        perform(second, "merge", self.li, reason="同一堆垃圾", data={"into": first.pk})
        self.client.force_login(self.li)
        page = self.client.get(reverse("cases:detail", args=[first.pk]), HTTP_ACCEPT_LANGUAGE="en")
        link = f'<a href="{reverse("cases:detail", args=[second.pk])}">{second.reference}</a>'
        self.assertContains(page, f"Took in a duplicate case</span> · {link}", html=False)
        self.assertContains(page, "李四 13900001111 · registered by 李军", html=False)
        self.assertContains(page, f"merged from {link}", html=False)

    def test_what_the_system_wrote_reads_in_the_readers_language(self):
        from cases.models import CaseEvent
        from cases.routing import router

        case = self.case_in(Stage.FILED)
        system = router()
        written = [
            ("route_none", "没有匹配的派遣规则：案件等待受理派遣员派遣。", {}),
            (
                "dispatch",
                "规则“道路不洁”（优先级 100）：环卫中心。",
                {"department": self.sanitation.pk, "rule_name": "道路不洁", "priority": 100},
            ),
            ("supervise", "自动升级：黄牌督办", {"level": 1}),
            ("escalate", "预警", {"step": "warn"}),  # a seeded step, its name kept
        ]
        for action, reason, payload in written:
            CaseEvent.objects.create(
                case=case,
                actor=system,
                action=action,
                reason=reason,
                payload=payload,
                from_stage=case.stage,
                to_stage=case.stage,
            )
        CaseEvent.objects.create(
            case=case,
            actor=self.li,
            action="supervise",
            reason="群众反映强烈",
            payload={"level": 1},
            from_stage=case.stage,
            to_stage=case.stage,
        )
        self.client.force_login(self.zhou)
        url = reverse("cases:detail", args=[case.pk])
        english = self.client.get(url, HTTP_ACCEPT_LANGUAGE="en")
        reasons = [item["reason"] for item in english.context["events"]][-5:]
        self.assertEqual(
            reasons,
            [
                "No routing rule matches: the case waits for a dispatcher.",
                f"Rule “道路不洁” (priority 100): {self.sanitation.name}.",
                "Automatic escalation: Supervision order",
                "Warning",
                "群众反映强烈",  # a person's words stay theirs
            ],
        )
        chinese = self.client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
        self.assertContains(chinese, "没有匹配的派遣规则")
        self.assertContains(chinese, "群众反映强烈")

    def test_a_dispatch_from_another_tab_to_another_department_is_a_change_not_done(self):
        case = self.case_in(Stage.FILED)
        self.client.force_login(self.li)
        url = reverse("cases:act", args=[case.pk, "dispatch"])
        seen = case.version
        # Tab A dispatches to sanitation.
        to_sanitation = {"dispatch-version": seen, "dispatch-department": self.sanitation.pk}
        self.assertEqual(self.client.post(url, to_sanitation).status_code, 302)
        # Tab B, opened on the same version, chose landscaping: not what was done.
        to_landscaping = {"dispatch-version": seen, "dispatch-department": self.landscaping.pk}
        response = self.client.post(url, to_landscaping, HTTP_ACCEPT_LANGUAGE="en")
        self.assertContains(
            response, "This case changed while you were looking at it", status_code=409
        )
        self.assertNotContains(response, "Already done", status_code=409)
        case.refresh_from_db()
        self.assertEqual(case.department, self.sanitation)
        self.assertEqual(case.events.filter(action="dispatch").count(), 1)
        # Tab A's own form sent again is the one that was done.
        again = self.client.post(url, to_sanitation, HTTP_ACCEPT_LANGUAGE="en")
        page = self.client.get(again["Location"], HTTP_ACCEPT_LANGUAGE="en")
        self.assertContains(page, "Already done: Dispatch.")

    def test_a_request_with_another_reason_on_the_same_version_is_a_change(self):
        case = self.case_in(Stage.IN_PROGRESS)
        self.client.force_login(self.chen)
        url = reverse("cases:act", args=[case.pk, "request_extension"])
        form = {
            "request_extension-version": case.version,
            "request_extension-reason": "材料未到",
            "request_extension-hours": "8",
        }
        self.assertEqual(self.client.post(url, form).status_code, 302)
        other = {**form, "request_extension-hours": "24"}
        self.assertContains(
            self.client.post(url, other, HTTP_ACCEPT_LANGUAGE="en"),
            "This case changed while you were looking at it",
            status_code=409,
        )
        self.assertEqual(case.requests.count(), 1)

    def test_a_missing_reason_is_asked_for(self):
        case = self.case_in(Stage.REPORTED)
        self.client.force_login(self.li)
        response = self.client.post(
            reverse("cases:act", args=[case.pk, "not_accept"]),
            {"not_accept-version": case.version, "not_accept-reason": "  "},
            HTTP_ACCEPT_LANGUAGE="en",
        )
        self.assertContains(response, "This field is required", status_code=400)
        self.assertEqual(list(response.context["actions"][1]["form"].errors), ["reason"])
        case.refresh_from_db()
        self.assertEqual(case.stage, Stage.REPORTED)

    def test_citizens_details_are_shown_to_the_centre_only(self):
        case = self.case_in(Stage.VERIFYING)
        for person, shown in (
            (self.li, True),
            (self.zhao, True),
            (self.wang, False),
            (self.zhou, False),
        ):
            with self.subTest(person=person.username):
                self.client.force_login(person)
                response = self.client.get(reverse("cases:detail", args=[case.pk]))
                self.assertEqual("13800000000" in response.content.decode(), shown)

    def test_the_timeline_reads_in_words(self):
        case = self.case_in(Stage.DISPATCHED)
        self.client.force_login(self.li)
        response = self.client.get(
            reverse("cases:detail", args=[case.pk]), HTTP_ACCEPT_LANGUAGE="en"
        )
        self.assertContains(response, '<span class="event-action">Dispatch</span>')
        self.assertContains(response, '<span class="event-stage">Dispatched</span>')


class WorkListsTestCase(CaseTestCase):
    def test_the_inbox_lists_the_department_cases_nearest_deadline_first(self):
        late = self.case_in(Stage.IN_PROGRESS)
        soon = self.case_in(Stage.DISPATCHED)
        past = late.deadline.replace(year=2020)
        Case.objects.filter(pk=soon.pk).update(deadline=past, warn_at=past, due_at=past)
        self.case_in(Stage.FILED)  # not dispatched: not in the inbox
        self.client.force_login(self.chen)
        # Session, person, roles, the cases, the header's unread count.
        with self.assertNumQueries(5):
            response = self.client.get(reverse("cases:inbox"))
        self.assertEqual([c.pk for c in response.context["cases"]], [soon.pk, late.pk])
        self.assertContains(response, "light red")
        self.client.force_login(self.sun)
        self.assertEqual(list(self.client.get(reverse("cases:inbox")).context["cases"]), [])

    def test_a_row_shows_the_case_in_the_readers_language_and_escapes_names(self):
        from django.utils import timezone

        from org.models import Department

        case = self.case_in(Stage.DISPATCHED)
        Department.objects.filter(pk=self.sanitation.pk).update(name="环卫<中心>")
        self.client.force_login(self.chen)
        due = timezone.localtime(case.deadline).strftime("%m-%d %H:%M")
        page = self.client.get(reverse("cases:inbox"), HTTP_ACCEPT_LANGUAGE="en")
        row = f'<li class="case-row light-{case.light()}" data-case="{case.pk}">'
        self.assertContains(page, row)
        self.assertContains(page, f'<a href="{reverse("cases:detail", args=[case.pk])}">')
        self.assertContains(page, f'<span class="ref">{case.number}</span>')
        self.assertContains(page, '<span class="stage stage-dispatched">Dispatched</span>')
        self.assertContains(
            page, f'<span class="where">{case.community.name} · {case.grid.code}</span>'
        )
        self.assertContains(page, f'<span class="when">due {due}</span>')
        self.assertContains(page, '<span class="dept">环卫&lt;中心&gt;</span>')
        self.assertNotContains(page, "环卫<中心>")
        page = self.client.get(reverse("cases:inbox"), HTTP_ACCEPT_LANGUAGE="zh-hans")
        self.assertContains(page, f'<span class="when">截止 {due}</span>')
        # Outside every grid: no place but the words, on the desk of the centre.
        outside = self.report(
            point=Point(100.0, 30.0, srid=4326), source=Source.HOTLINE, reporter=self.li
        )
        self.client.force_login(self.li)
        page = self.client.get(reverse("cases:desk"), HTTP_ACCEPT_LANGUAGE="en")
        self.assertContains(page, f'data-case="{outside.pk}"')
        self.assertContains(page, '<span class="where">outside coverage</span>')
        self.assertContains(
            page,
            f'<span class="when">{timezone.localtime(outside.reported_at).strftime("%m-%d %H:%M")}',
        )

    def test_the_desk_shows_the_queues(self):
        self.case_in(Stage.REPORTED)
        self.case_in(Stage.FILED)
        self.client.force_login(self.li)
        response = self.client.get(reverse("cases:desk"), HTTP_ACCEPT_LANGUAGE="en")
        counts = {str(heading): len(cases) for heading, cases in response.context["sections"]}
        self.assertEqual(counts["To file"], 1)
        self.assertEqual(counts["To dispatch"], 1)

    def test_a_grid_worker_sees_the_checks_in_their_grids(self):
        case = self.case_in(Stage.CHECKING)
        self.client.force_login(self.wang)
        self.assertEqual(
            [c.pk for c in self.client.get(reverse("cases:tasks")).context["cases"]], [case.pk]
        )
        self.client.force_login(self.qian)
        self.assertEqual(list(self.client.get(reverse("cases:tasks")).context["cases"]), [])

    def test_visibility_by_role(self):
        case = self.case_in(Stage.DISPATCHED)
        elsewhere = self.report(point=Point(116.5, 39.95, srid=4326), reporter=self.qian)
        self.assertEqual(set(Case.objects.visible_to(self.chen)), {case})
        self.assertEqual(set(Case.objects.visible_to(self.sun)), set())
        self.assertEqual(set(Case.objects.visible_to(self.wang)), {case})
        self.assertEqual(set(Case.objects.visible_to(self.qian)), {elsewhere})
        for person in (self.li, self.zhao, self.zhou, self.ada):
            self.assertEqual(set(Case.objects.visible_to(person)), {case, elsewhere})
        self.assertEqual(set(Case.objects.visible_to(self.nobody)), set())
